// Package envflag is the command line of brokerd and egressd: a flag set
// whose every flag has an environment twin (the flag wins), whose help never
// shows a secret setting's value, and whose errors are one line (an
// exit.UsageError: exit code 2).
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/internal/exit"
)

// Set is a flag.FlagSet whose every flag has an environment twin read
// through getenv; a flag on the command line wins over its twin. -h prints
// the flags on stdout; a bad flag is one error line, without the flag list.
type Set struct {
	*flag.FlagSet
	prog   string
	getenv func(string) string
	errs   []envError
	stdout io.Writer
}

// envError is an environment twin that does not parse; it is reported only
// when its flag is not on the command line (the flag wins).
type envError struct{ flag, msg string }

// ErrHelpShown is returned by Parse after -h printed the flags: exit 0.
var ErrHelpShown = errors.New("help shown")

// New returns the flag set of subcommand name of program prog (for the
// usage line), reading environment twins through getenv; -h prints to
// stdout.
func New(prog, name string, getenv func(string) string, stdout io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, not printed
	fs.Usage = func() {}
	return &Set{FlagSet: fs, prog: prog, getenv: getenv, stdout: stdout}
}

func (f *Set) envOr(env, def string) string {
	if env != "" {
		if v := f.getenv(env); v != "" {
			return v
		}
	}
	return def
}

func usageName(name, env string) string {
	if env == "" {
		return name
	}
	return name + " [$" + env + "]"
}

// String registers a string flag with twin env (none when "").
func (f *Set) String(p *string, name, env, def, usage string) {
	f.StringVar(p, name, f.envOr(env, def), usage+" ("+usageName("--"+name, env)+")")
}

// Secret registers a string flag whose value must never be shown (a token,
// a URL that may hold a password): help says "(set)" when its twin is set,
// never the value.
func (f *Set) Secret(p *string, name, env, usage string) {
	v := f.envOr(env, "")
	u := usage + " (" + usageName("--"+name, env) + ")"
	if v != "" {
		u += " (set)"
	}
	f.StringVar(p, name, v, u)
	f.Lookup(name).DefValue = "" // help prints no default
}

// URL registers a URL flag whose default is shown with any password
// replaced (see ShownURL).
func (f *Set) URL(p *string, name, env, def, usage string) {
	f.String(p, name, env, def, usage)
	f.Lookup(name).DefValue = ShownURL(f.Lookup(name).DefValue)
}

// ShownURL is s safe to print: a password in it is replaced by "xxxxx"; a
// value that does not parse but may hold credentials is "(set)".
func ShownURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "@"):
		return "(set)"
	case err != nil || u.User == nil:
		return s
	default:
		return u.Redacted()
	}
}

// Duration registers a duration flag; a twin that does not parse is an
// error unless the flag is given.
func (f *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	v := f.envOr(env, "")
	if v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, envError{name, fmt.Sprintf("$%s=%q is not a duration (like 30s or 5m)", env, v)})
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage+" ("+usageName("--"+name, env)+")")
}

// Int registers an integer flag, like Duration.
func (f *Set) Int(p *int, name, env string, def int, usage string) {
	v := f.envOr(env, "")
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, envError{name, fmt.Sprintf("$%s=%q is not a whole number", env, v)})
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, usage+" ("+usageName("--"+name, env)+")")
}

// Bool registers a boolean flag, like Duration.
func (f *Set) Bool(p *bool, name, env string, def bool, usage string) {
	v := f.envOr(env, "")
	if v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, envError{name, fmt.Sprintf("$%s=%q is not a boolean", env, v)})
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage+" ("+usageName("--"+name, env)+")")
}

// Parse parses args and reports the first bad flag or environment value
// (an exit.UsageError), or ErrHelpShown after -h.
func (f *Set) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(f.stdout, "usage: %s %s [flags]\n\nEvery flag has an environment twin, shown as [$VAR]; the flag wins.\n\n", f.prog, f.Name())
			f.SetOutput(f.stdout)
			f.PrintDefaults()
			return ErrHelpShown
		}
		return exit.Usagef("%s: %v", f.Name(), err)
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, e := range f.errs {
		if !set[e.flag] {
			return exit.Usagef("%s", e.msg)
		}
	}
	if f.NArg() > 0 {
		return exit.Usagef("%s: unexpected argument %q", f.Name(), f.Arg(0))
	}
	return nil
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
