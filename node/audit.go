package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// Audit key files (docs/audit.md, "Keys"). A node's private key lives in
// its data directory, its public key in the cluster's keys directory
// under the node's name; both are hex text and one line:
//
//	DATA/audit.key   64 hex digits: the ed25519 seed (mode 0600)
//	KEYS/NAME.pub    64 hex digits: the ed25519 public key
const (
	AuditKeyFile      = "audit.key"
	AuditPublicSuffix = ".pub"
)

// ErrAuditKeys is returned by Start and the key helpers for missing,
// malformed or contradicting audit keys.
var ErrAuditKeys = errors.New("node: audit keys")

// AuditKey returns the node's audit signing key from dataDir, creating
// it (from crypto/rand) at the first call.
func AuditKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, AuditKeyFile)
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, werr := fmt.Fprintf(f, "%x\n", seed)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s: want %d hex-encoded bytes", ErrAuditKeys, path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// PublishAuditKey writes pub as keysDir/NAME.pub, or checks that the
// file already there holds it.
func PublishAuditKey(keysDir, name string, pub ed25519.PublicKey) error {
	path := filepath.Join(keysDir, name+AuditPublicSuffix)
	if have, err := readPublicKey(path); err == nil {
		if !bytes.Equal(have, pub) {
			return fmt.Errorf("%w: %s holds another key than %s's %s", ErrAuditKeys, path, name, AuditKeyFile)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(keysDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(pub)+"\n"), 0o644)
}

func readPublicKey(path string) (ed25519.PublicKey, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %s: want %d hex-encoded bytes", ErrAuditKeys, path, ed25519.PublicKeySize)
	}
	return pub, nil
}

// LoadAuditKeys reads every NAME.pub in keysDir: the public keys by node
// id, and the node names by id (sorted by name for reports).
func LoadAuditKeys(keysDir string) (audit.Keys, map[uint64]string, error) {
	entries, err := os.ReadDir(keysDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrAuditKeys, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	keys, names := audit.Keys{}, map[uint64]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), AuditPublicSuffix)
		if !ok || e.IsDir() {
			continue
		}
		pub, err := readPublicKey(filepath.Join(keysDir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		id := uint64(causal.NodeIDFromName(name))
		keys[id], names[id] = pub, name
	}
	return keys, names, nil
}

// DefaultAuditSignTicks is replica.AuditConfig.SignTicks for a node
// whose Config.Replica.Audit.SignTicks is zero: an origin signs its
// chain head at most once per tick (10 ms), so a peer applies a write up
// to a tick later than without audit, and a busy node makes one
// signature per tick instead of one per transaction.
const DefaultAuditSignTicks = 1

// auditConfig fills rcfg.Audit when Config.AuditKeysDir is set: the
// node's key from its data directory (created at first start), published
// to the keys directory if absent there, and every key the directory
// holds.
func (c *Config) auditConfig(rcfg *replica.Config) error {
	if c.AuditKeysDir == "" {
		return nil
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: audit mode (AuditKeysDir) needs a data directory for the node's key", ErrConfig)
	}
	key, err := AuditKey(c.DataDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditKeys, err)
	}
	if err := PublishAuditKey(c.AuditKeysDir, c.Name, key.Public().(ed25519.PublicKey)); err != nil {
		return err
	}
	keys, _, err := LoadAuditKeys(c.AuditKeysDir)
	if err != nil {
		return err
	}
	operator, err := LoadOperatorKey(c.AuditKeysDir)
	if err != nil {
		return err
	}
	signTicks := c.Replica.Audit.SignTicks
	if signTicks == 0 {
		signTicks = DefaultAuditSignTicks
	}
	rcfg.Audit = replica.AuditConfig{Keys: keys, SigningKey: key, CheckpointTicks: c.Replica.Audit.CheckpointTicks,
		Operator: operator, SignTicks: signTicks}
	return nil
}
