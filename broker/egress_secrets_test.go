package broker

import (
	"strings"
	"testing"
)

// Every name an egress bundle or sandbox-init sets is denied for secrets.
func TestEgressEnvNamesAreDenied(t *testing.T) {
	v := NewValidator(Limits{}, nil)
	for _, n := range EgressEnvNames() {
		if v.CheckName(n) == "" {
			t.Errorf("%s is not denied", n)
		}
	}
}

func TestCheckEgressHosts(t *testing.T) {
	many := make([]string, MaxEgressHosts+1)
	for i := range many {
		many[i] = "h" + strings.Repeat("x", i) + ".example.com"
	}
	for name, tc := range map[string]struct {
		hosts  []string
		fields string
	}{
		"none":           {nil, ""},
		"good":           {[]string{"api.openai.com", "*.example.com"}, ""},
		"bad third":      {[]string{"a.example.com", "b.example.com", "10.1.2.3"}, "egress_hosts[2]"},
		"two bad":        {[]string{"x", "ok.example.com", "y:1"}, "egress_hosts[0],egress_hosts[2]"},
		"duplicate":      {[]string{"a.example.com", "a.example.com"}, "egress_hosts[1]"},
		"too many":       {many, "egress_hosts"},
		"exactly twenty": {many[:MaxEgressHosts], ""},
	} {
		var got []string
		for _, fe := range CheckEgressHosts("egress_hosts", tc.hosts) {
			got = append(got, fe.Field)
		}
		if strings.Join(got, ",") != tc.fields {
			t.Errorf("%s: fields %v, want %q", name, got, tc.fields)
		}
	}
}

// The placeholder prefix is exactly what masked_value reveals.
func TestMaskedPrefix(t *testing.T) {
	for value, want := range map[string]string{
		"sk-proj-0123456789abcdefghijklmnop": "sk-p",
		"short-value":                        "",
		"ghp_0123456789012345678901234567":   "ghp_",
		"":                                   "",
		"•••••••••••••••••••••••••••••": "", // a value starting with the mask character: nothing told apart
	} {
		if got := MaskedPrefix(Mask(value)); got != want {
			t.Errorf("MaskedPrefix(Mask(%q)) = %q, want %q", value, got, want)
		}
		if got := MaskedPrefix(Mask(value)); !strings.HasPrefix(value, got) {
			t.Errorf("%q is not a prefix of the value", got)
		}
	}
}
