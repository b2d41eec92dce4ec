package crdt

import (
	"flag"
	"os"
	"testing"
)

// TestMain raises rapid's default from 100 to 10,000 cases per property;
// -rapid.checks on the command line still wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		flag.Set("rapid.checks", "10000")
	}
	os.Exit(m.Run())
}
