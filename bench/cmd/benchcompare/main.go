package main

import (
	"fmt"
	"os"

	"github.com/spooksystems/spook/bench"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: benchcompare A.json B.json")
		os.Exit(2)
	}
	a, err := bench.ReadRecord(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
	b, err := bench.ReadRecord(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
	if err := bench.Compare(os.Stdout, os.Args[1], a, os.Args[2], b); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}
