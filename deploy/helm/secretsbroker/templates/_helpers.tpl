{{- define "sb.name" -}}{{ .Release.Name }}-secretsbroker{{- end -}}

{{- define "sb.labels" -}}
app.kubernetes.io/name: secretsbroker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sb.brokerdSelector" -}}
app.kubernetes.io/name: secretsbroker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: brokerd
{{- end -}}

{{- define "sb.egressdSelector" -}}
app.kubernetes.io/name: secretsbroker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: egressd
{{- end -}}

{{- define "sb.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}

{{/* The restricted security context every container of the chart runs with. */}}
{{- define "sb.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sb.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* egressd's address as sandboxes reach it (BROKER_EGRESS_PROXY_URL). */}}
{{- define "sb.egressdURL" -}}
{{- if .Values.egressd.proxyURL -}}
{{ .Values.egressd.proxyURL }}
{{- else -}}
http://{{ include "sb.name" . }}-egressd.{{ .Release.Namespace }}.svc:{{ .Values.egressd.port }}
{{- end -}}
{{- end -}}
