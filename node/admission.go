package node

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/transport"
	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/wire"
)

// Admission: who may become a peer. A peer link is admitted only by proof:
// the cluster key proven in the wire handshake (Config.ClusterKey), and,
// on TLS links, a certificate from the cluster CA that names the node the
// Hello claims to be. Client credentials (Password, Token) never admit a
// peer. See docs/security.md, section Admission.

// ClusterKeyBytes is the size of a generated cluster key: 256 random bits.
const ClusterKeyBytes = 32

// ErrAdmissionConfig is returned by Start for a node whose port would
// admit peers without any proof: a non-loopback listen address with no
// cluster key while plaintext peer links are allowed. It matches
// ErrConfig too.
var ErrAdmissionConfig = fmt.Errorf("%w: no peer admission", ErrConfig)

// GenerateClusterKey returns a new random cluster key as text (64 hex
// digits), the form ParseClusterKey reads.
func GenerateClusterKey() (string, error) {
	key := make([]byte, ClusterKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return hex.EncodeToString(key), nil
}

// ParseClusterKey reads a cluster key written as hex or base64 (standard
// or URL alphabet, padded or not), ignoring surrounding white space, and
// checks its length (wire.MinClusterKeyBytes to wire.MaxClusterKeyBytes).
// The error never contains the key.
func ParseClusterKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("cluster key is empty")
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err = enc.DecodeString(text); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, errors.New("cluster key is neither hex nor base64 (make one with 'spook up' or 'openssl rand -hex 32')")
	}
	if len(key) < wire.MinClusterKeyBytes || len(key) > wire.MaxClusterKeyBytes {
		return nil, fmt.Errorf("cluster key of %d bytes: give %d to %d bytes (%d random bytes recommended)",
			len(key), wire.MinClusterKeyBytes, wire.MaxClusterKeyBytes, ClusterKeyBytes)
	}
	return key, nil
}

// checkAdmission refuses a configuration whose port would admit any
// stranger as a peer: plaintext peer links allowed (RequireTLS off), no
// cluster key, and a listen address other hosts can reach. On loopback
// only local processes can connect, so it returns a warning instead.
func (c Config) checkAdmission() (warning string, err error) {
	if len(c.ClusterKey) > 0 {
		if n := len(c.ClusterKey); n < wire.MinClusterKeyBytes || n > wire.MaxClusterKeyBytes {
			return "", fmt.Errorf("%w: cluster key of %d bytes outside [%d, %d]", ErrConfig, n, wire.MinClusterKeyBytes, wire.MaxClusterKeyBytes)
		}
		return "", nil
	}
	if c.RequireTLS {
		return "", nil // every peer shows a certificate from the cluster CA
	}
	host, _, _ := net.SplitHostPort(c.Listen)
	if !isLoopback(host) {
		return "", fmt.Errorf("%w: listening on %q without a cluster key admits anyone who can reach the port as a peer "+
			"(a peer receives every key and can remove members): give a cluster key (spookd --cluster-key-file, "+
			"SPOOK_CLUSTER_KEY) or require TLS", ErrAdmissionConfig, c.Listen)
	}
	return "no cluster key: any local process can join this cluster as a peer (give --cluster-key-file to admit only key holders)", nil
}

// isLoopback reports whether host names the loopback interface only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wireConfig is the handshake configuration of one link; accept may be
// nil.
func (n *Node) wireConfig(accept func(wire.Hello) error) wire.Config {
	return wire.Config{Local: n.peers.hello(), ClusterKey: n.cfg.ClusterKey, Counters: n.metrics.wire, Accept: accept}
}

// admitPeer is the Accept policy of dialled and inbound links, run once
// the peer has proven the cluster key and sent its Hello. It refuses:
//   - a Hello whose node id is not the id of the name it gives, so a
//     peer cannot speak for another node under its own name;
//   - on a TLS link, a certificate that does not name that node (a
//     client certificate, or another node's);
//   - a dialled peer that is not the one we meant to reach (want, if not
//     zero);
//   - a node an operator removed, with ReasonRemoved and when, so it
//     learns it (see removal.go).
func (n *Node) admitPeer(raw net.Conn, want causal.NodeID) func(wire.Hello) error {
	return n.admit(raw, want, false)
}

// admitBridged is the Accept policy of a bridged link (`spook link`).
// Its TLS hop, if any, ends at the bridge, so the certificate names the
// bridge's holder, not the remote node: it is not bound to the Hello.
// The remote node is admitted by the cluster key; a cluster without a
// key admits it only if the bridge holds a node certificate, so a client
// certificate cannot bridge a stranger in.
func (n *Node) admitBridged(raw net.Conn) func(wire.Hello) error {
	return n.admit(raw, 0, true)
}

func (n *Node) admit(raw net.Conn, want causal.NodeID, bridged bool) func(wire.Hello) error {
	return func(remote wire.Hello) error {
		if id := causal.NodeIDFromName(remote.NodeName); id != remote.Node {
			return fmt.Errorf("peer %q claims node id %s, but that name's id is %s", remote.NodeName, remote.Node, id)
		}
		if want != 0 && remote.Node != want {
			return fmt.Errorf("dialled %s expecting node %s, reached %q", raw.RemoteAddr(), want, remote.NodeName)
		}
		if cs, ok := transport.ConnectionState(raw); ok {
			name := certs.PeerName(cs)
			switch {
			case bridged && (name != "" || len(n.cfg.ClusterKey) > 0):
			case bridged:
				return fmt.Errorf("bridged peer %q: without a cluster key, the bridge must present a node certificate", remote.NodeName)
			case name == "":
				return fmt.Errorf("peer %q presented no node certificate from the cluster CA (a client certificate does not admit a peer)", remote.NodeName)
			case name != remote.NodeName:
				return fmt.Errorf("peer's certificate is for node %q, but it says it is %q", name, remote.NodeName)
			}
		}
		if text, removed := n.removedMember(remote.Node, remote.NodeName); removed {
			return fmt.Errorf("%w: %s", wire.ErrRemoved, text)
		}
		return nil
	}
}

// dialHost is the host part of a peer address (host:port, or a ws:// or
// wss:// URL), for TLS server names.
func dialHost(addr string) string {
	if strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://") {
		if u, err := url.Parse(addr); err == nil {
			addr = u.Host
		}
	}
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
