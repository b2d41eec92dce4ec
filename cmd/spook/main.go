package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spooksystems/spook/internal/buildinfo"
)

type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("spook: command registered twice: " + name)
	}
	commands[name] = command{name, summary, run}
}

// commandNames lists the registered commands, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: spook <command> [flags]\n\ncommands:\n")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'spook <command> --help' for a command's flags; 'spook --version' for the build.\n")
}

// usageError is a mistake in how a command was called (an unknown flag, a
// missing argument). main prints it with one hint line pointing at
// --help, not the whole help text, and exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// usageMessage is what main prints for a usage error of command name.
func usageMessage(name string, e *usageError) string {
	return fmt.Sprintf("spook %s: %v\nRun 'spook %s --help' for usage.\n", name, e.err, name)
}

func main() {
	os.Exit(mainCode(os.Args[1:]))
}

// mainCode runs the command line args and returns the exit code: 0, 1 for
// a failed command, 2 for a usage error.
func mainCode(args []string) int {
	if len(args) < 1 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		return mainCode([]string{"version"})
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "spook: unknown command %q\nRun 'spook --help' for the commands.\n", args[0])
		return 2
	}
	err := cmd.run(args[1:])
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprint(stderr, usageMessage(cmd.name, ue))
		return 2
	}
	fmt.Fprintf(stderr, "spook %s: %v\n", cmd.name, err)
	return 1
}

func init() { register("version", "print the build: version, commit, time", runVersion) }

const versionHelp = `usage: spook version [--json]

Prints this binary's version, the commit it was built from and that
commit's time, read from the Go build information. spookd --version
prints the same line for the daemon; a running node reports its build in
GET /v1/status ("version").

Example:
  spook version
  devel commit 5049e3c1a2b4 (2026-12-06T21:40:00Z) go1.26.8
`

func runVersion(args []string) error {
	fs := newFlagSet("version", versionHelp)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("unexpected argument %q", rest[0])
	}
	bi := buildinfo.Get()
	if *asJSON {
		return writeJSONLine(stdout, bi)
	}
	fmt.Fprintln(stdout, "spook", bi.String())
	return nil
}
