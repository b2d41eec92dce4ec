// Package audit holds Spook's signed, chained history as pure functions:
// the hash of a transaction (which binds its origin's previous one, so an
// origin's transactions form a hash chain), the seal an origin attaches
// (the previous hash and an ed25519 signature), the check a receiver runs
// before applying a transaction (Keys.VerifySeal, Chains.CheckLink), and
// the Merkle log of checkpoints (RFC 6962, via golang.org/x/mod/sumdb/tlog),
// and write-rights policies signed by an operator key (policy.go).
//
// It does no I/O and draws no randomness: keys come from the driver, and
// ed25519 signing is deterministic. The replica core calls it (replica's
// audit.go); the offline verifier (spook audit verify) calls the same
// functions on a data directory's records. docs/audit.md explains the
// model, the formats and how an outside auditor checks them.
package audit
