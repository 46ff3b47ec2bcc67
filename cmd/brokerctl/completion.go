package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// completionCmd prints a completion script generated from the command tree
// (kong's model), so that every command, alias and flag is offered.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" name:"SHELL" help:"bash, zsh or fish."`
}

// completionNode is one command path and the words offered after it.
type completionNode struct {
	path  string   // space-joined command names and aliases, "" for the root
	words []string // subcommands, their aliases, then flags
}

// completionTree lists every command path (aliases included) with the
// words completing it: subcommands first, then --flags (inherited ones too).
func completionTree(app *kong.Application) []completionNode {
	var out []completionNode
	var walk func(n *kong.Node, paths []string, flags []string)
	walk = func(n *kong.Node, paths []string, inherited []string) {
		flags := slices.Clone(inherited)
		for _, f := range n.Flags {
			if !f.Hidden && !slices.Contains(flags, "--"+f.Name) {
				flags = append(flags, "--"+f.Name)
			}
		}
		var words []string
		for _, c := range n.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			words = append(words, c.Name)
			words = append(words, c.Aliases...)
		}
		words = append(words, flags...)
		for _, p := range paths {
			out = append(out, completionNode{path: p, words: words})
		}
		for _, c := range n.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			var sub []string
			for _, p := range paths {
				for _, name := range append([]string{c.Name}, c.Aliases...) {
					sub = append(sub, strings.TrimSpace(p+" "+name))
				}
			}
			walk(c, sub, flags)
		}
	}
	walk(app.Node, []string{""}, nil)
	return out
}

// shCase is the POSIX `case` body shared by the bash and zsh scripts:
// __brokerctl_words PATH prints the words completing PATH; status 1 for an
// unknown path.
func shCase(w io.Writer, nodes []completionNode) {
	fmt.Fprintln(w, "__brokerctl_words() {")
	fmt.Fprintln(w, `  case "$1" in`)
	for _, n := range nodes {
		fmt.Fprintf(w, "    %q) echo %q ;;\n", n.path, strings.Join(n.words, " "))
	}
	fmt.Fprintln(w, "    *) return 1 ;;")
	fmt.Fprintln(w, "  esac")
	fmt.Fprintln(w, "}")
}

const bashCompletion = `
_brokerctl() {
  local cur="${COMP_WORDS[COMP_CWORD]}" path="" i cand
  for ((i = 1; i < COMP_CWORD; i++)); do
    cand="${path:+$path }${COMP_WORDS[i]}"
    if __brokerctl_words "$cand" >/dev/null; then path="$cand"; fi
  done
  COMPREPLY=($(compgen -W "$(__brokerctl_words "$path")" -- "$cur"))
}
complete -o default -F _brokerctl brokerctl
`

const zshCompletion = `
_brokerctl() {
  local p="" w cand
  for w in "${(@)words[2,CURRENT-1]}"; do
    cand="${p:+$p }$w"
    if __brokerctl_words "$cand" >/dev/null; then p="$cand"; fi
  done
  compadd -- ${=$(__brokerctl_words "$p")}
}
compdef _brokerctl brokerctl
`

func (c *completionCmd) Run(a *app, kctx *kong.Context) error {
	nodes := completionTree(kctx.Model)
	w := a.stdout
	switch c.Shell {
	case "bash":
		fmt.Fprintln(w, "# brokerctl completion for bash: source <(brokerctl completion bash)")
		shCase(w, nodes)
		_, err := io.WriteString(w, bashCompletion)
		return err
	case "zsh":
		fmt.Fprintln(w, "#compdef brokerctl")
		fmt.Fprintln(w, "# brokerctl completion for zsh: source <(brokerctl completion zsh) (after compinit)")
		shCase(w, nodes)
		_, err := io.WriteString(w, zshCompletion)
		return err
	default:
		fmt.Fprintln(w, "# brokerctl completion for fish: brokerctl completion fish | source")
		fmt.Fprintln(w, "function __brokerctl_words")
		fmt.Fprintln(w, "    set -l p ''")
		fmt.Fprintln(w, "    for w in (commandline -opc)[2..-1]")
		fmt.Fprintln(w, "        set -l cand (string trim -- \"$p $w\")")
		fmt.Fprintln(w, "        if __brokerctl_known \"$cand\"; set p $cand; end")
		fmt.Fprintln(w, "    end")
		fmt.Fprintln(w, "    switch \"$p\"")
		for _, n := range nodes {
			fmt.Fprintf(w, "        case %s\n            string split ' ' -- %s\n", fishQuote(n.path), fishQuote(strings.Join(n.words, " ")))
		}
		fmt.Fprintln(w, "    end")
		fmt.Fprintln(w, "end")
		fmt.Fprintln(w, "function __brokerctl_known")
		fmt.Fprintln(w, "    switch $argv[1]")
		paths := make([]string, len(nodes))
		for i, n := range nodes {
			paths[i] = fishQuote(n.path)
		}
		fmt.Fprintf(w, "        case %s\n            return 0\n", strings.Join(paths, " "))
		fmt.Fprintln(w, "    end")
		fmt.Fprintln(w, "    return 1")
		fmt.Fprintln(w, "end")
		_, err := fmt.Fprintln(w, "complete -c brokerctl -f -a '(__brokerctl_words)'")
		return err
	}
}

// fishQuote single-quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
