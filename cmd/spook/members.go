package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spooksystems/spook/api"
)

func init() { register("members", "list the cluster's members as a node sees them", runMembers) }

const membersHelp = `usage: spook members [--json] [--addr HOST:PORT] [--token T]

Lists the members as the node sees them (GET /v1/members): name, address,
state (self, alive, suspect, unreachable, left, removed) and lag, the
number of transactions this node has that the member has not acknowledged.
A member that stays unreachable stalls collapse; remove it for good with
'spook member remove NAME'.

Example:
  spook members
  NAME  ADDR            STATE        LAG
  n1    127.0.0.1:7001  self         0
  n2    127.0.0.1:7002  alive        0
  n3    127.0.0.1:7003  unreachable  41
`

// runMembers prints GET /v1/members as a table, or its JSON.
func runMembers(args []string) error {
	var ms []api.MemberStatus
	if shown, err := getDocument("members", membersHelp, "/v1/members", "print the node's JSON list as is", args, &ms); err != nil || shown {
		return err
	}
	writeMembers(stdout, ms)
	return nil
}

// writeMembers prints members as a table sorted by name.
func writeMembers(w io.Writer, ms []api.MemberStatus) {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b api.MemberStatus) int { return cmp.Compare(a.Name, b.Name) })
	// The REGION column shows only when some member has a region.
	regions := slices.ContainsFunc(ms, func(m api.MemberStatus) bool { return m.Region != "" })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if regions {
		fmt.Fprintln(tw, "NAME\tADDR\tREGION\tSTATE\tLAG")
	} else {
		fmt.Fprintln(tw, "NAME\tADDR\tSTATE\tLAG")
	}
	for _, m := range ms {
		addr := m.Addr
		if addr == "" {
			addr = "-"
		}
		if regions {
			region := m.Region
			if region == "" {
				region = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Name, addr, region, m.State, m.LagTxns)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", m.Name, addr, m.State, m.LagTxns)
	}
	tw.Flush()
}
