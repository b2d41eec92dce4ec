package proptest

import (
	"flag"
	"os"
	"testing"
)

// DefaultChecks is the number of cases per property when -rapid.checks
// is not given.
const DefaultChecks = "10000"

// Main is a TestMain: it sets rapid's -rapid.checks to DefaultChecks unless
// the command line set it, then runs the tests and exits.
func Main(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		flag.Set("rapid.checks", DefaultChecks)
	}
	os.Exit(m.Run())
}
