package broker

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits bound what one request may ask for. Zero fields take the defaults.
type Limits struct {
	MaxNameLen        int // default 128
	MaxValueBytes     int // default 64 KiB
	MaxSecretsPerUser int // default 500
	MaxSecretIDs      int // ids per provisioning request, default 100
	MaxEvalItems      int // items per evaluation, default 500
}

func (l Limits) withDefaults() Limits {
	if l.MaxNameLen <= 0 {
		l.MaxNameLen = 128
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = 64 << 10
	}
	if l.MaxSecretsPerUser <= 0 {
		l.MaxSecretsPerUser = 500
	}
	if l.MaxSecretIDs <= 0 {
		l.MaxSecretIDs = 100
	}
	if l.MaxEvalItems <= 0 {
		l.MaxEvalItems = 500
	}
	return l
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	providerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	// Identifiers that become part of a Vault path or a Redis key.
	identRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Validator checks names and values against the configured rules.
type Validator struct {
	limits Limits
	denied []string
}

// NewValidator returns a Validator denying DefaultDeniedNames plus the
// extra names given (the built-in names are always denied).
func NewValidator(limits Limits, extraDenied []string) *Validator {
	denied := append(DefaultDeniedNames(), extraDenied...)
	return &Validator{limits: limits.withDefaults(), denied: denied}
}

// Limits returns the limits in force, defaults applied.
func (v *Validator) Limits() Limits { return v.limits }

// CheckName returns a FieldError message for an unacceptable env var name, or "".
func (v *Validator) CheckName(name string) string {
	switch {
	case name == "":
		return "is required"
	case len(name) > v.limits.MaxNameLen:
		return fmt.Sprintf("must be at most %d characters", v.limits.MaxNameLen)
	case !nameRE.MatchString(name):
		return "must start with a letter or underscore and contain only letters, digits and underscores"
	}
	upper := strings.ToUpper(name)
	for _, d := range v.denied {
		if p, ok := strings.CutSuffix(d, "*"); ok {
			if strings.HasPrefix(upper, strings.ToUpper(p)) {
				return fmt.Sprintf("names starting with %s are reserved: they would change how the sandbox or the broker runs", p)
			}
		} else if upper == strings.ToUpper(d) {
			return fmt.Sprintf("%s is reserved: it would change how the sandbox or the broker runs", d)
		}
	}
	return ""
}

// CheckValue returns a FieldError message for an unacceptable value, or "".
// The message never quotes the value.
func (v *Validator) CheckValue(value string) string {
	switch {
	case value == "":
		return "must not be empty"
	case len(value) > v.limits.MaxValueBytes:
		return fmt.Sprintf("must be at most %d bytes", v.limits.MaxValueBytes)
	case strings.IndexByte(value, 0) >= 0:
		return "must not contain a NUL byte"
	case !utf8.ValidString(value):
		return "must be valid UTF-8"
	}
	return ""
}

// CheckProvider returns a FieldError message for an unacceptable provider, or "".
func CheckProvider(p string) string {
	if !providerRE.MatchString(p) {
		return "must be 1-64 lowercase letters, digits, '.', '_' or '-'"
	}
	return ""
}

// ValidIdent reports whether s is safe as a user, project or record id.
func ValidIdent(s string) bool { return identRE.MatchString(s) }

// ValidID reports whether s is a broker-issued id (a lowercase UUID).
func ValidID(s string) bool { return uuidRE.MatchString(s) }
