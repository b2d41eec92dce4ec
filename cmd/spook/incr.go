package main

import (
	"encoding/json"
	"fmt"
	"strconv"
)

func init() { register("incr", "add to a counter", runIncr) }

const incrHelp = `usage: spook incr KEY [BY] [--addr HOST:PORT] [--token T]

Adds BY (default 1; negative subtracts) to the counter at KEY (like Redis
INCRBY). A missing key starts at 0; a string holding a decimal integer
becomes a counter starting from it. Increments made concurrently on
different replicas add up. Past the int64 range the write fails; it never
wraps. Prints the write's token on stdout and the new value on stderr.

Example:
  spook incr visits
  5c1e9f0a2b3d4e6f:18
  (value 1)
  spook incr stock -3
`

// runIncr increments one counter through POST /v1/txn.
func runIncr(args []string) error {
	fs := newFlagSet("incr", incrHelp)
	cf := addClientFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) < 1 || len(rest) > 2 {
		return usageErrorf("want KEY [BY], got %d arguments", len(rest))
	}
	key := rest[0]
	if key == "" {
		return fmt.Errorf("empty key")
	}
	by := int64(1)
	if len(rest) == 2 {
		by, err = strconv.ParseInt(rest[1], 10, 64)
		if err != nil {
			return fmt.Errorf("BY %q is not an integer in the int64 range", rest[1])
		}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	op := newTxnOp("incr", key, nil)
	op.By = &by
	reply, err := c.txn([]txnOp{op})
	if err != nil {
		return err
	}
	printToken(reply.Token)
	if len(reply.Results) == 1 {
		var n json.Number
		if json.Unmarshal(reply.Results[0], &n) == nil {
			fmt.Fprintf(stderr, "(value %s)\n", n)
		}
	}
	return nil
}
