package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spooksystems/spook/api"
)

func init() { register("member", "operator actions on one member: leave, remove", runMember) }

const memberHelp = `usage: spook member leave [--timeout D] [--addr HOST:PORT] [--token T]
       spook member remove NAME [--force] [--addr HOST:PORT] [--token T]

leave makes the node at --addr leave the cluster gracefully (POST
/v1/leave), as Consul's 'consul leave' does: it records its departure,
refuses writes from then on, and waits until every alive or suspect member
has the departure (and so every write the node made). Then stop the
node; collapse no longer waits for it. spookd --leave-on-terminate does
the same on SIGTERM. A node that left must not be restarted with its data
directory: wipe it and --join under a new name.

Removes a dead member from the cluster for good (DELETE
/v1/members/NAME), so collapse stops waiting for it. Removal is an
operator's decision that the member will not come back: it is replicated
like a write and prints that write's token, which 'spook wait' takes.

To guard against removing the wrong node, the command first reads the
members and refuses a member that is self, alive or suspect unless --force
is given; a removed member must not rejoin under its old name.

Example:
  spook members                # n3 has been unreachable since its disk died
  spook member remove n3
  5c1e9f0a2b3d4e6f:42
`

// runMember runs "spook member <action> ...": leave or remove. Flags
// may come before or after the action.
func runMember(args []string) error {
	fs := newFlagSet("member", memberHelp)
	cf := addClientFlags(fs)
	force := fs.Bool("force", false, "remove: remove even a member that is self, alive or suspect")
	timeout := fs.Duration("timeout", 30*time.Second, "leave: how long to wait for the other members to have the departure")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageErrorf("missing action (want: leave, or remove NAME)")
	}
	if rest[0] == "leave" {
		if len(rest) != 1 {
			return usageErrorf("leave takes no argument: it makes the node at --addr leave")
		}
		return memberLeave(cf, *timeout)
	}
	if rest[0] != "remove" {
		return usageErrorf("unknown action %q (want: leave, or remove NAME)", rest[0])
	}
	rest = rest[1:]
	if len(rest) != 1 || rest[0] == "" {
		return usageErrorf("want exactly one member NAME, got %q", rest)
	}
	name := rest[0]
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := requestContext()
	defer cancel()

	var ms []api.MemberStatus
	if err := c.getJSON(ctx, "/v1/members", &ms); err != nil {
		return err
	}
	var found *api.MemberStatus
	names := make([]string, 0, len(ms))
	for i := range ms {
		names = append(names, ms[i].Name)
		if ms[i].Name == name {
			found = &ms[i]
		}
	}
	switch {
	case found == nil:
		return fmt.Errorf("no member named %q (members: %s)", name, strings.Join(names, ", "))
	case found.State == "removed":
		// Removal is idempotent: the state the operator asked for holds.
		fmt.Fprintf(stderr, "(%s is already removed; nothing to do)\n", name)
		return nil
	case !*force && (found.State == "self" || found.State == "alive" || found.State == "suspect"):
		return fmt.Errorf("refusing to remove %q: it is %s (only dead members should be removed; --force overrides)", name, found.State)
	}

	resp, err := c.do(ctx, http.MethodDelete, "/v1/members/"+url.PathEscape(name), nil, "Accept", "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Token string `json:"token"`
	}
	if err := decodeReply(resp.Body, &reply); err != nil {
		return err
	}
	printToken(reply.Token)
	return nil
}

// memberLeave asks the node at cf's address to leave the cluster and
// reports who has its departure.
func memberLeave(cf *clientFlags, timeout time.Duration) error {
	if timeout <= 0 {
		return usageErrorf("--timeout %v: give a positive duration", timeout)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+RequestTimeout)
	defer cancel()
	var st api.Status
	if err := c.getJSON(ctx, "/v1/status", &st); err != nil {
		return err
	}
	var reply struct {
		Token        string   `json:"token"`
		Left         bool     `json:"left"`
		Acknowledged []string `json:"acknowledged_by"`
		Pending      []string `json:"pending"`
	}
	path := fmt.Sprintf("/v1/leave?timeout_ms=%d", timeout.Milliseconds())
	if err := c.postJSON(ctx, path, struct{}{}, &reply); err != nil {
		return err
	}
	if !reply.Left {
		return fmt.Errorf("%s has left, but %s did not have its departure within %v; it spreads when they sync (acknowledged by: %s)",
			st.Name, strings.Join(reply.Pending, ", "), timeout, strings.Join(reply.Acknowledged, ", "))
	}
	fmt.Fprintf(stderr, "%s has left the cluster (acknowledged by: %s); stop its process now\n", st.Name, strings.Join(reply.Acknowledged, ", "))
	printToken(reply.Token)
	return nil
}
