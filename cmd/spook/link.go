package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spooksystems/spook/node"
)

func init() {
	register("link", "bridge standard input/output to a node's peer protocol", runLink)
}

// bridgeHello opens the bridge-to-bridge exchange that decides which node
// initiates the handshake: each bridge sends this tag, a random nonce in
// hex and a newline; the larger nonce's node initiates.
const bridgeHello = "SPOOKBRIDGE1 "

func runLink(args []string) error {
	fs := flag.NewFlagSet("link", flag.ContinueOnError)
	stdio := fs.Bool("stdio", false, "bridge standard input and output (the only mode so far)")
	to := fs.String("to", "127.0.0.1:7001", "the node to bridge to (HOST:PORT)")
	cert := fs.String("tls-cert", "", "client certificate for the hop to the node (PEM)")
	key := fs.String("tls-key", "", "client key (PEM)")
	ca := fs.String("tls-ca", "", "cluster CA certificate (PEM)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: spook link --stdio --to HOST:PORT

Connects a node's peer protocol to standard input and output, so two nodes
can replicate over any byte stream: ssh, a serial line, a pipe. Run one
bridge next to each node and join their standard streams; the two bridges
agree which node opens the handshake, and the nodes then sync both ways.

Example (two nodes that cannot reach each other, joined through ssh):
  spook link --stdio --to 127.0.0.1:7001 | ssh far 'spook link --stdio --to 127.0.0.1:7001' ...
  (in practice: socat, or a named pipe pair, joins the two streams both ways)

`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*stdio {
		return usageErrorf("give --stdio (bridging standard input/output is the only mode)")
	}
	var tc *tls.Config
	if *cert != "" || *key != "" || *ca != "" {
		var err error
		if tc, err = clientTLS(*cert, *key, *ca); err != nil {
			return err
		}
	}
	return bridge(os.Stdin, os.Stdout, *to, tc)
}

// bridge joins the byte stream (in, out) to the node at addr.
func bridge(in io.Reader, out io.Writer, addr string, tc *tls.Config) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	mine := hex.EncodeToString(nonce[:])
	if _, err := io.WriteString(out, bridgeHello+mine+"\n"); err != nil {
		return fmt.Errorf("write to the stream: %w", err)
	}
	br := bufio.NewReader(in)
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("read the other bridge's greeting: %w", err)
	}
	theirs, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), bridgeHello)
	if !ok || len(theirs) != len(mine) {
		return fmt.Errorf("the other end of the stream is not a spook link bridge (got %q)", line)
	}
	role := byte(node.BridgeRespond)
	switch {
	case mine > theirs:
		role = node.BridgeInitiate
	case mine == theirs:
		return errors.New("both bridges drew the same nonce; run again")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("cannot reach node at %s: %w", addr, err)
	}
	defer conn.Close()
	if tc != nil {
		host, _, _ := net.SplitHostPort(addr)
		tc = tc.Clone()
		tc.ServerName = host
		tlsConn := tls.Client(conn, tc)
		if err := tlsConn.Handshake(); err != nil {
			return fmt.Errorf("TLS to %s: %w", addr, err)
		}
		conn = tlsConn
	}
	if _, err := conn.Write(append([]byte(node.BridgePreface), role)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "spook link: bridging %s (this node %s the handshake)\n", addr,
		map[byte]string{node.BridgeInitiate: "opens", node.BridgeRespond: "answers"}[role])
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(conn, br); errc <- err }()
	go func() { _, err := io.Copy(out, conn); errc <- err }()
	return <-errc // either direction ending ends the bridge
}

// clientTLS loads a client certificate and the cluster CA.
func clientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("TLS needs all of --tls-cert, --tls-key and --tls-ca")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}
