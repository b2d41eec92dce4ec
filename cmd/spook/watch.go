package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
)

func init() { register("watch", "stream changes to keys as they are applied", runWatch) }

const watchHelp = `usage: spook watch [--prefix P] [--max N] [--timeout D] [--json] [--addr HOST:PORT] [--token T]

Streams every change to keys starting with --prefix (default: all keys),
local or replicated, in the order this node applies them (GET /v1/watch,
Server-Sent Events). One line per changed key:

  TYPE KEY origin=NAME     TYPE is what the key holds now: register,
                           counter, set, map, or deleted; NAME is the
                           member that wrote it

Keys with spaces or unprintable bytes are Go-quoted. --json prints each
event's JSON instead. The watch ends on Ctrl-C, after --max events, after
--timeout (all exit 0), or when the node ends the stream (exit 1): the
node drops a watcher that falls 4096 changes behind, after an "overflow"
event; re-read what you need and watch again.

Example:
  spook watch --prefix user:
  map user:1 origin=n1
  deleted user:2 origin=n2
  spook watch --max 1 --timeout 30s --prefix jobs/   # wait for one change
`

// MaxEventBytes bounds one line of the watch stream; the node's events
// (a key of at most 1 KiB, base64 at most 4/3 of it, and a few fields) are
// far smaller.
const MaxEventBytes = 64 << 10

// changeEvent is the data of one "change" event (docs/api.md).
type changeEvent struct {
	Key      string `json:"key"`
	Encoding string `json:"encoding"`
	Type     string `json:"type"`
	Deleted  bool   `json:"deleted"`
	Origin   string `json:"origin"`
}

// runWatch prints the node's change events until a bound is reached.
func runWatch(args []string) error {
	fs := newFlagSet("watch", watchHelp)
	cf := addClientFlags(fs)
	prefix := fs.String("prefix", "", "watch only keys starting with this prefix")
	maxEvents := fs.Int("max", 0, "exit after this many events (0: no limit)")
	timeout := fs.Duration("timeout", 0, "exit after this long, e.g. 30s (0: no limit)")
	asJSON := fs.Bool("json", false, "print each event's JSON data line as is")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q (the prefix goes in --prefix)", rest)
	}
	if *maxEvents < 0 || *timeout < 0 {
		return errors.New("--max and --timeout must not be negative")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/watch?prefix="+url.QueryEscape(*prefix), nil, "Accept", "text/event-stream")
	if err != nil {
		if ctx.Err() != nil {
			return bounded(ctx, err)
		}
		return err
	}
	defer resp.Body.Close()

	events := 0
	var event string // the pending event's name
	var data []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), MaxEventBytes)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			// A blank line dispatches the event (SSE framing).
			name, payload := event, strings.Join(data, "\n")
			event, data = "", data[:0]
			switch name {
			case "change":
				if err := printChange(payload, *asJSON); err != nil {
					return err
				}
				events++
				if *maxEvents > 0 && events >= *maxEvents {
					return nil
				}
			case "overflow":
				return fmt.Errorf("%w: this watcher fell too far behind (%s); watch again", errStreamEnded, payload)
			}
		case line == ": watching":
			fmt.Fprintf(stderr, "(watching %s on %s)\n", describePrefix(*prefix), c.addr)
		case strings.HasPrefix(line, ":"):
			// A comment: the greeting or a keep-alive.
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if ctx.Err() != nil {
		return bounded(ctx, nil)
	}
	if err := sc.Err(); err != nil {
		return c.readError(ctx, err)
	}
	return fmt.Errorf("%w (is the node shutting down?)", errStreamEnded)
}

// bounded is the result of a watch whose context ended: --timeout and
// Ctrl-C end it normally.
func bounded(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return err
}

// printChange prints one change event's data line (see watchHelp).
func printChange(payload string, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintln(stdout, payload)
		return err
	}
	var ev changeEvent
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return fmt.Errorf("bad event from node: %w", err)
	}
	if ev.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(ev.Key)
		if err != nil {
			return fmt.Errorf("bad event from node: %w", err)
		}
		ev.Key = string(b)
	}
	typ := ev.Type
	if ev.Deleted {
		typ = "deleted"
	}
	_, err := fmt.Fprintf(stdout, "%s %s origin=%s\n", typ, displayKey(ev.Key), ev.Origin)
	return err
}

func describePrefix(p string) string {
	if p == "" {
		return "all keys"
	}
	return "keys starting with " + displayKey(p)
}
