package envflag

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/acme/secretsbroker/internal/buildinfo"
	"github.com/acme/secretsbroker/internal/exit"
)

// Command is one subcommand of a program: Run gets the arguments after its name.
type Command struct {
	Name string
	Run  func(args []string) error
}

// Dispatch runs the subcommand of prog named by args[0]. usage is printed on
// stdout for -h, --help and help, and on stderr when no command is given;
// --version, -version and version print buildinfo's line. A command's help
// (ErrHelpShown) is a success. Errors: an exit.UsageError for a missing or
// unknown command, else the command's own error.
func Dispatch(prog, usage string, args []string, stdout, stderr io.Writer, cmds ...Command) error {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name
	}
	want := strings.Join(names, " or ")
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exit.Usagef("a command is required: %s", want)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, buildinfo.String(prog))
		return nil
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			if err := c.Run(args[1:]); !errors.Is(err, ErrHelpShown) {
				return err
			}
			return nil
		}
	}
	return exit.Usagef("unknown command %q: want %s", args[0], want)
}
