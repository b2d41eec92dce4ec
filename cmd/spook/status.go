package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spooksystems/spook/api"
)

func init() { register("status", "show a node's view of itself and the cluster", runStatus) }

const statusHelp = `usage: spook status [--json] [--addr HOST:PORT] [--token T]

Shows a node's status (GET /v1/status): its name and id, cluster, key
count, state hash (equal on replicas that applied the same writes), its
applied vector, the collapsed vector (writes every current member has
applied), each member with its state and lag, and recent events.

Example:
  spook status --addr 127.0.0.1:7002
  spook status --json | jq .state_hash
`

// runStatus prints GET /v1/status, readably or as the node's JSON.
func runStatus(args []string) error {
	var st statusDoc
	if shown, err := getDocument("status", statusHelp, "/v1/status", "print the node's JSON document as is", args, &st); err != nil || shown {
		return err
	}
	writeStatus(stdout, &st)
	return nil
}

// statusDoc is GET /v1/status as the CLI reads it: api.Status, the
// node's build, and its recent events in either form a node sends (a
// structured object, or a preformatted string from older nodes).
type statusDoc struct {
	api.Status
	Version string            `json:"version"`
	Events  []json.RawMessage `json:"recent_events"`
}

// formatEvent prints one recent event on one line: "TIME TYPE peer=NAME
// txn=TOKEN detail".
func formatEvent(raw json.RawMessage) string {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text
	}
	var e struct {
		Type   string    `json:"type"`
		Time   time.Time `json:"time"`
		Peer   string    `json:"peer"`
		Txn    string    `json:"txn"`
		Detail string    `json:"detail"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return string(raw)
	}
	s := e.Time.Local().Format("15:04:05.000") + " " + e.Type
	if e.Peer != "" {
		s += " peer=" + e.Peer
	}
	if e.Txn != "" {
		s += " txn=" + e.Txn
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s
}

// getDocument is the shared part of a subcommand that shows one JSON
// document from the node: client flags and --json, no arguments, GET
// path. With --json it copies the node's JSON to stdout and reports
// shown; otherwise it decodes the document into out for the caller to
// render.
func getDocument(name, help, path, jsonUsage string, args []string, out any) (shown bool, err error) {
	fs := newFlagSet(name, help)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, jsonUsage)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return false, err
	}
	if len(rest) > 0 {
		return false, fmt.Errorf("unexpected arguments %q", rest)
	}
	c, err := cf.client()
	if err != nil {
		return false, err
	}
	defer c.close()
	ctx, cancel := requestContext()
	defer cancel()
	if *asJSON {
		return true, copyJSON(ctx, c, path)
	}
	return false, c.getJSON(ctx, path, out)
}

// writeStatus prints st for a human.
func writeStatus(w io.Writer, st *statusDoc) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node\t%s (id %s)\n", st.Name, st.ID)
	if st.Version != "" {
		fmt.Fprintf(tw, "version\t%s\n", st.Version)
	}
	fmt.Fprintf(tw, "cluster\t%s\n", st.Cluster)
	fmt.Fprintf(tw, "keys\t%d\n", st.Keys)
	fmt.Fprintf(tw, "state hash\t%s\n", st.StateHash)
	fmt.Fprintf(tw, "applied\t%s\n", formatVector(st.Applied))
	fmt.Fprintf(tw, "collapsed\t%s\n", formatVector(st.Collapsed))
	fmt.Fprintf(tw, "not collapsed\t%d txns\n", vectorSum(st.Applied)-min(vectorSum(st.Applied), vectorSum(st.Collapsed)))
	tw.Flush()
	fmt.Fprintln(w)
	writeMembers(w, st.Members)
	if len(st.Events) > 0 {
		fmt.Fprintln(w, "\nrecent events:")
		for _, e := range st.Events {
			fmt.Fprintf(w, "  %s\n", formatEvent(e))
		}
	}
}

// formatVector prints a version vector by node name, names sorted:
// "n1=3 n2=5"; "(empty)" for none.
func formatVector(v map[string]uint64) string {
	if len(v) == 0 {
		return "(empty)"
	}
	var b strings.Builder
	for i, name := range slices.Sorted(maps.Keys(v)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", name, v[name])
	}
	return b.String()
}

func vectorSum(v map[string]uint64) uint64 {
	var s uint64
	for _, n := range v {
		s += n
	}
	return s
}
