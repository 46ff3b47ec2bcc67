package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose every flag has an environment twin read
// through getenv; a flag on the command line wins over its twin. -h prints
// the flags on stdout; a bad flag is one error line, without the flag list.
type flagSet struct {
	*flag.FlagSet
	getenv func(string) string
	errs   []envError
	stdout io.Writer
}

// envError is an environment twin that does not parse; it is reported only
// when its flag is not on the command line (the flag wins).
type envError struct{ flag, msg string }

// errHelpShown is returned by parse after -h printed the flags: exit 0.
var errHelpShown = errors.New("help shown")

func newFlagSet(name string, getenv func(string) string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, not printed
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, getenv: getenv, stdout: stdout}
}

func (f *flagSet) envOr(env, def string) string {
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

func (f *flagSet) str(p *string, name, env, def, usage string) {
	f.StringVar(p, name, f.envOr(env, def), usage+" ("+usageName("--"+name, env)+")")
}

// secret registers a string flag whose value must never be shown (a token,
// a URL that may hold a password): help says "(set)" when its twin is set,
// never the value.
func (f *flagSet) secret(p *string, name, env, usage string) {
	v := f.envOr(env, "")
	u := usage + " (" + usageName("--"+name, env) + ")"
	if v != "" {
		u += " (set)"
	}
	f.StringVar(p, name, v, u)
	f.Lookup(name).DefValue = "" // help prints no default
}

// addr registers a URL flag whose default is shown with any password
// replaced (see shownURL).
func (f *flagSet) addr(p *string, name, env, def, usage string) {
	f.str(p, name, env, def, usage)
	f.Lookup(name).DefValue = shownURL(f.Lookup(name).DefValue)
}

// shownURL is s safe to print: a password in it is replaced by "xxxxx"; a
// value that does not parse but may hold credentials is "(set)".
func shownURL(s string) string {
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

func (f *flagSet) dur(p *time.Duration, name, env string, def time.Duration, usage string) {
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

func (f *flagSet) int(p *int, name, env string, def int, usage string) {
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

func (f *flagSet) bool(p *bool, name, env string, def bool, usage string) {
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

// parse parses args and reports the first bad flag or environment value.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(f.stdout, "usage: egressd %s [flags]\n\nEvery flag has an environment twin, shown as [$VAR]; the flag wins.\n\n", f.Name())
			f.SetOutput(f.stdout)
			f.PrintDefaults()
			return errHelpShown
		}
		return usagef("%s: %v", f.Name(), err)
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, e := range f.errs {
		if !set[e.flag] {
			return usagef("%s", e.msg)
		}
	}
	if f.NArg() > 0 {
		return usagef("%s: unexpected argument %q", f.Name(), f.Arg(0))
	}
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
