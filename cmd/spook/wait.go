package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func init() { register("wait", "wait until members have applied a write", runWait) }

const waitHelp = `usage: spook wait TOKEN [--members N] [--region] [--timeout D] [--addr HOST:PORT] [--token T]

Waits until N members, this node included, have applied the write named
by TOKEN (printed by set, incr, del and member remove), or --timeout
passes (POST /v1/wait). --members 0, the default, waits for every current
member: the write has collapsed, and is on every member for good. With
--region only the members of the node's region count (spookd --region):
--members 0 then waits for collapse in the region. Exits 0 when reached
and 1 on timeout; both say how many members have it.

Example:
  tok=$(spook set config/mode on)
  spook wait "$tok" --members 2 --timeout 2s
  reached: 2 members have applied 5c1e9f0a2b3d4e6f:20
`

const (
	// DefaultWaitTimeout is spook wait's --timeout default.
	DefaultWaitTimeout = 5 * time.Second
	// MaxWaitTimeout is the node's cap on one wait (api/http's
	// MaxWaitTimeout); a longer --timeout is refused rather than cut.
	MaxWaitTimeout = 5 * time.Minute
	// waitGrace is how much longer the request may take than the wait
	// itself: the reply's round trip after the node's timer fires.
	waitGrace = 10 * time.Second
)

// runWait asks the node to wait for a token and reports the outcome.
func runWait(args []string) error {
	fs := newFlagSet("wait", waitHelp)
	cf := addClientFlags(fs)
	members := fs.Int("members", 0, "members that must have applied the write, this node included (0: all, collapse)")
	timeout := fs.Duration("timeout", DefaultWaitTimeout, "give up after this long (at most 5m)")
	region := fs.Bool("region", false, "count only the members of the node's region")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("want exactly one TOKEN, got %d arguments", len(rest))
	}
	token := rest[0]
	switch {
	case *members < 0:
		return errors.New("--members must not be negative")
	case *timeout <= 0 || *timeout > MaxWaitTimeout:
		return fmt.Errorf("--timeout must be above 0 and at most %s", MaxWaitTimeout)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout+waitGrace)
	defer cancel()
	// Round up: a sub-millisecond timeout must not become 0, which the
	// node reads as its default.
	timeoutMs := (*timeout + time.Millisecond - 1).Milliseconds()
	scope, whose := "cluster", "member"
	if *region {
		scope, whose = "region", "member of the region"
	}
	req := struct {
		Token     string `json:"token"`
		Members   int    `json:"members"`
		TimeoutMs int64  `json:"timeout_ms"`
		Scope     string `json:"scope"`
	}{token, *members, timeoutMs, scope}
	var reply struct {
		Members int  `json:"members"`
		Reached bool `json:"reached"`
	}
	if err := c.postJSON(ctx, "/v1/wait", req, &reply); err != nil {
		return err
	}
	want := "every " + whose
	if *members > 0 {
		want = fmt.Sprintf("%d", *members)
	}
	if !reply.Reached {
		return fmt.Errorf("%w within %s: %s applied %s, wanted %s", errNotReached, *timeout, plural(reply.Members, "member has", "members have"), token, want)
	}
	if *members == 0 {
		fmt.Fprintf(stdout, "collapsed: every %s (%d) has applied %s\n", whose, reply.Members, token)
		return nil
	}
	fmt.Fprintf(stdout, "reached: %s applied %s\n", plural(reply.Members, "member has", "members have"), token)
	return nil
}

// plural prints n with the singular or plural phrase.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
