package broker

import "context"

type auditKey struct{}

// WithAudit returns ctx carrying a; adapters send it along with every call.
func WithAudit(ctx context.Context, a Audit) context.Context {
	return context.WithValue(ctx, auditKey{}, a)
}

// AuditFrom returns the Audit carried by ctx (zero if none).
func AuditFrom(ctx context.Context) Audit {
	a, _ := ctx.Value(auditKey{}).(Audit)
	return a
}

// withSandbox returns ctx whose Audit also names a runtime and a sandbox.
func withSandbox(ctx context.Context, runtimeID, sandboxID string) context.Context {
	a := AuditFrom(ctx)
	a.RuntimeID, a.SandboxID = runtimeID, sandboxID
	return WithAudit(ctx, a)
}
