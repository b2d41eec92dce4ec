package node

import (
	"time"

	"github.com/spooksystems/spook/causal"
)

// DefaultAuditKeysReload is how often a node in audit mode rereads its
// keys directory (Config.AuditKeysReload): a member added to a running
// audited cluster is known to the others that long after its NAME.pub
// is copied into their keys directories, without a restart. Until then
// its transactions are refused there (they cannot be checked), never
// applied, and come again with the next catch-up.
const DefaultAuditKeysReload = 10 * time.Second

// auditKeysLoop rereads the keys directory every Config.AuditKeysReload
// and adds the keys of nodes the replica does not know yet
// (replica.AddAuditKeys). A key that changed is refused (no rotation):
// the warning is logged once per distinct error, not every reload.
func (n *Node) auditKeysLoop() {
	defer n.wg.Done()
	every := n.cfg.AuditKeysReload
	if every <= 0 {
		every = DefaultAuditKeysReload
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastErr := ""
	warn := func(err error) {
		if err.Error() != lastErr {
			lastErr = err.Error()
			n.log.Warn("audit keys directory", "dir", n.cfg.AuditKeysDir, "err", err)
		}
	}
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		keys, names, err := LoadAuditKeys(n.cfg.AuditKeysDir)
		if err != nil {
			warn(err)
			continue
		}
		n.mu.Lock()
		added, err := n.r.AddAuditKeys(keys)
		n.mu.Unlock()
		if err != nil {
			warn(err)
			continue
		}
		lastErr = ""
		for _, id := range added {
			n.log.Info("audit key added", "node", names[uint64(id)], "id", causal.NodeID(id))
		}
	}
}
