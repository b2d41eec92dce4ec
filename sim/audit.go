package sim

import (
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// auditConfig is node i's audit configuration (Options.Audit): every
// node's key derives from its name, so a run stays a function of its
// seed; every node holds every public key. Signatures are made at most
// once per tick (SignTicks 1, as spookd does), so runs exercise
// transactions handed out unsigned and signed a tick later.
func auditConfig(peers []replica.Peer, i int) replica.AuditConfig {
	keys := audit.Keys{}
	for _, p := range peers {
		keys[uint64(causal.NodeIDFromName(p.Name))] = simAuditKey(p.Name).Public().(ed25519.PublicKey)
	}
	return replica.AuditConfig{Keys: keys, SigningKey: simAuditKey(peers[i].Name), SignTicks: 1}
}

func simAuditKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("spook sim audit key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}
