package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose every flag has an environment twin read
// through getenv; a flag on the command line wins over its twin.
type flagSet struct {
	*flag.FlagSet
	getenv func(string) string
	errs   []string
}

func newFlagSet(name string, getenv func(string) string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, getenv: getenv}
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

func (f *flagSet) dur(p *time.Duration, name, env string, def time.Duration, usage string) {
	v := f.envOr(env, "")
	if v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Sprintf("$%s=%q is not a duration (like 30s or 5m)", env, v))
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
			f.errs = append(f.errs, fmt.Sprintf("$%s=%q is not a whole number", env, v))
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
			f.errs = append(f.errs, fmt.Sprintf("$%s=%q is not a boolean", env, v))
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage+" ("+usageName("--"+name, env)+")")
}

// parse parses args and reports the first bad flag or environment value.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return usagef("%s: %v", f.Name(), err)
	}
	if len(f.errs) > 0 {
		return usagef("%s", f.errs[0])
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
