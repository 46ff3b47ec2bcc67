package broker

import "context"

// FallbackLimiter asks Primary (shared by every replica, Redis in
// production) and, when Primary fails, Fallback (per replica, in process),
// so a limit still holds while the shared store is down: each replica then
// admits at most its own share. Warn, when set, hears about each failure.
type FallbackLimiter struct {
	Primary, Fallback Limiter
	Warn              func(ctx context.Context, component string, err error)
}

var _ Limiter = FallbackLimiter{}

// Allow implements Limiter. Errors: those of Fallback.
func (f FallbackLimiter) Allow(ctx context.Context, key string) (Decision, error) {
	d, err := f.Primary.Allow(ctx, key)
	if err == nil {
		return d, nil
	}
	f.warn(ctx, err)
	return f.Fallback.Allow(ctx, key)
}

// Peek implements Limiter. Errors: those of Fallback.
func (f FallbackLimiter) Peek(ctx context.Context, key string) (Decision, error) {
	d, err := f.Primary.Peek(ctx, key)
	if err == nil {
		return d, nil
	}
	f.warn(ctx, err)
	return f.Fallback.Peek(ctx, key)
}

func (f FallbackLimiter) warn(ctx context.Context, err error) {
	if f.Warn != nil {
		f.Warn(ctx, "rate_limit", err)
	}
}
