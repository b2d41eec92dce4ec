// Package certs is Spook's small private PKI: one ed25519 certificate
// authority per cluster, and two kinds of certificate signed by it:
//
//   - node certificates (Issue): valid as both TLS server and client so
//     the same pair serves inbound and outbound links, naming the node by
//     a spook://node/NAME URI SAN (NodeName, PeerName) besides its host
//     SANs;
//   - client certificates (IssueClient): TLS client authentication only,
//     no node SAN, no host SANs: for Redis and HTTP clients and tools.
//
// A client certificate therefore never admits a peer: the node accepts a
// peer link only when the certificate's node SAN names the node its
// Hello claims, and a dialler refuses a server without server
// authentication. CheckNodeCert is what a node runs on its own
// certificate at startup.
//
//	ca, _ := certs.NewCA("spook cluster prod", 10*certs.Year, time.Now())
//	node, _ := ca.Issue(certs.Request{Name: "node-a", Hosts: []string{"10.0.0.5"}}, time.Now())
//	ca.WriteFiles(dir)                 // ca.crt, ca.key (0600)
//	node.WriteFiles(dir, "node-a")     // node-a.crt, node-a.key (0600)
//	app, _ := ca.IssueClient(certs.Request{Name: "app"}, time.Now())
//
//	b, _ := certs.LoadBundle(dir, "node-a")   // CA cert + this node's pair
//	server := b.ServerConfig(certs.RequirePeerCert)
//	client := b.ClientConfig("")              // or the expected peer name
//
// Both configs are TLS 1.3 only. A client verifies that the server's
// chain ends at the cluster CA (and, if given, that it names the expected
// peer); a server requires or accepts client certificates chained to the
// same CA. Membership of the cluster is "holds a node certificate from
// its CA": whoever holds ca.key can admit nodes, so keep it off the nodes.
//
// These functions back `spook certs init`, `spook certs node NAME` and
// `spook certs client NAME`.
// Nothing here holds global state; randomness comes from crypto/rand.
package certs
