package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spooksystems/spook/transport/certs"
)

func init() {
	register("certs", "create a cluster CA, node and client certificates for mutual TLS", runCerts)
}

const certsHelp = `usage: spook certs init [--dir DIR] [--name NAME] [--years N]
       spook certs node NAME [--dir DIR] [--host HOST]...
       spook certs client NAME [--dir DIR]

Creates the files spookd needs for mutual TLS (ed25519 keys, TLS 1.3):

  init       a cluster certificate authority: DIR/ca.crt and DIR/ca.key.
             Whoever holds ca.key can admit nodes: keep it off the nodes.
  node NAME  a certificate for node NAME signed by the CA in DIR:
             DIR/NAME.crt and DIR/NAME.key. It is valid for 127.0.0.1,
             ::1, localhost, NAME and every --host given, and names the
             node (spook://node/NAME): only it admits a peer, and only
             for a node that says it is NAME. Give every address the
             node advertises as a --host, or spookd refuses to start.
  client NAME
             a client certificate (Redis and HTTP clients, tools): valid
             for TLS client authentication only. It never admits a peer.

Every file is written with mode 0600, and nothing is overwritten.

Example:
  spook certs init --dir certs
  spook certs node n1 --dir certs --host 10.0.0.1
  spookd --listen 10.0.0.1:7001 --node-id n1 \
    --tls-cert certs/n1.crt --tls-key certs/n1.key --tls-ca certs/ca.crt ...
`

// hostList collects repeated --host flags.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func runCerts(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, certsHelp)
		if len(args) == 0 {
			return errors.New("give init, node NAME or client NAME")
		}
		return nil
	}
	fs := newFlagSet("certs "+args[0], certsHelp)
	dir := fs.String("dir", "certs", "directory holding ca.crt and ca.key")
	name := fs.String("name", "spook cluster", "init: the CA's common name")
	years := fs.Int("years", 10, "init: the CA's validity in years")
	var hosts hostList
	fs.Var(&hosts, "host", "node: an extra IP address or DNS name the node is reached by (repeatable)")
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	now := time.Now()
	switch args[0] {
	case "init":
		if len(rest) != 0 {
			return fmt.Errorf("init takes no arguments, got %q", rest)
		}
		if *years < 1 || *years > 100 {
			return fmt.Errorf("--years %d: give 1 to 100", *years)
		}
		ca, err := certs.NewCA(*name, time.Duration(*years)*certs.Year, now)
		if err != nil {
			return err
		}
		if err := ca.WriteFiles(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(*dir, certs.CACertFile), filepath.Join(*dir, certs.CAKeyFile))
		return nil
	case "node", "client":
		if len(rest) != 1 {
			return fmt.Errorf("%s takes one NAME, got %d arguments", args[0], len(rest))
		}
		ca, err := certs.LoadCA(*dir)
		if err != nil {
			return fmt.Errorf("load the CA from %s (run 'spook certs init' first): %w", *dir, err)
		}
		issue := ca.Issue
		if args[0] == "client" {
			if len(hosts) > 0 {
				return errors.New("client certificates name no hosts: --host is for 'spook certs node'")
			}
			issue = ca.IssueClient
		}
		pair, err := issue(certs.Request{Name: rest[0], Hosts: hosts}, now)
		if err != nil {
			return err
		}
		if err := pair.WriteFiles(*dir, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(*dir, rest[0]+".crt"), filepath.Join(*dir, rest[0]+".key"))
		return nil
	}
	return fmt.Errorf("unknown certs command %q: give init, node NAME or client NAME", args[0])
}
