package broker

import (
	"fmt"
	"time"
)

// Bounds of a bootstrap token's lifetime, the one rule for every setting
// and request that names one: brokerd refuses to start outside them, and
// the Vault adapter refuses to wrap outside them.
const (
	MinWrapTTL = time.Second
	// WrapTTLLimit is the longest bootstrap token lifetime: a sandbox that
	// has not started within a day gets a new token by restart.
	WrapTTLLimit = 24 * time.Hour
)

// CheckWrapTTL reports whether ttl is a valid bootstrap token lifetime.
// Errors: invalid (field "ttl").
func CheckWrapTTL(ttl time.Duration) error {
	if ttl < MinWrapTTL || ttl > WrapTTLLimit {
		return Invalid(FieldError{Field: "ttl", Message: "must be " + WrapTTLRange()})
	}
	return nil
}

// WrapTTLRange says the bounds in words: "between 1s and 24h".
func WrapTTLRange() string {
	return fmt.Sprintf("between %s and %dh", MinWrapTTL, WrapTTLLimit/time.Hour)
}
