package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spooksystems/spook/api"
)

func init() { register("member", "operator actions on one member: remove", runMember) }

const memberHelp = `usage: spook member remove NAME [--force] [--addr HOST:PORT] [--token T]

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

// runMember runs "spook member <action> ...": remove is the only action.
// Flags may come before or after the action.
func runMember(args []string) error {
	fs := newFlagSet("member", memberHelp)
	cf := addClientFlags(fs)
	force := fs.Bool("force", false, "remove even a member that is self, alive or suspect")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageErrorf("missing action (want: remove NAME)")
	}
	if rest[0] != "remove" {
		return usageErrorf("unknown action %q (want: remove NAME)", rest[0])
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
