package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spooksystems/spook/internal/completion"
)

func init() {
	register("completion", "print a shell completion script (bash, zsh, fish)", runCompletion)
}

const completionHelp = `usage: spook completion bash|zsh|fish

Prints a completion script for spook: subcommands, their flags and
actions, and file names. spookd --completion SHELL prints spookd's.

Example:
  spook completion bash | sudo tee /etc/bash_completion.d/spook
  source <(spook completion bash)                  # this shell only
  spook completion zsh > "${fpath[1]}/_spook"
  spook completion fish > ~/.config/fish/completions/spook.fish
`

// actions are the words a subcommand takes right after its name.
var actions = map[string][]string{
	"member":     {"leave", "remove"},
	"bundle":     {"vector", "export", "import"},
	"certs":      {"init", "node"},
	"trace":      {"replay"},
	"completion": completion.Shells,
}

func runCompletion(args []string) error {
	fs := newFlagSet("completion", completionHelp)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("give one shell: bash, zsh or fish")
	}
	p := completion.Program{Name: "spook", Flags: []completion.Flag{
		{Name: "help", Usage: "list the commands"}, {Name: "version", Usage: "print the build"}}}
	for _, name := range commandNames() {
		p.Commands = append(p.Commands, completion.Command{Name: name, Summary: commands[name].summary,
			Flags: commandFlags(name), Actions: actions[name]})
	}
	if err := completion.Write(stdout, rest[0], p); err != nil {
		return &usageError{err}
	}
	return nil
}

// commandFlags lists a subcommand's flags by reading its --help, which
// every subcommand ends with its flag defaults (a command with actions:
// its first action's --help). Some commands print their help to
// os.Stderr rather than the stderr variable, so both are captured.
func commandFlags(name string) []completion.Flag {
	if name == "completion" {
		return nil
	}
	args := []string{"--help"}
	if a := actions[name]; len(a) > 0 {
		args = []string{a[0], "--help"}
	}
	var direct, piped bytes.Buffer
	saved, savedOS := stderr, os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	stderr, os.Stderr = &direct, w
	done := make(chan struct{})
	go func() { io.Copy(&piped, r); close(done) }()
	runErr := commands[name].run(args)
	stderr, os.Stderr = saved, savedOS
	w.Close()
	<-done
	r.Close()
	if runErr != nil && !errors.Is(runErr, flag.ErrHelp) {
		fmt.Fprintf(stderr, "(completion: %s --help: %v)\n", name, runErr)
	}
	return completion.ParseDefaults(direct.String() + piped.String())
}
