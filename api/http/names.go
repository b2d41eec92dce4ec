package httpapi

import (
	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
)

// MaxNameRefreshes bounds how often one watch stream re-reads the
// members to name an origin it does not know (a member that joined after
// the stream began); past it, unknown origins are shown by id.
const MaxNameRefreshes = 16

// memberNames names nodes for people: the name a member goes by, its id
// only when no member has that id. One per watch stream; not safe for
// concurrent use.
type memberNames struct {
	backend   api.Backend
	names     map[causal.NodeID]string
	refreshes int
}

func newMemberNames(b api.Backend) *memberNames {
	m := &memberNames{backend: b}
	m.refresh()
	return m
}

func (m *memberNames) refresh() {
	m.names = map[causal.NodeID]string{}
	st := m.backend.Status()
	m.names[st.ID] = st.Name
	for _, mem := range st.Members {
		m.names[mem.ID] = mem.Name
	}
}

// name returns id's member name, or its hex id if no member has it.
func (m *memberNames) name(id causal.NodeID) string {
	if n, ok := m.names[id]; ok && n != "" {
		return n
	}
	if m.refreshes < MaxNameRefreshes {
		m.refreshes++
		m.refresh()
		if n, ok := m.names[id]; ok && n != "" {
			return n
		}
	}
	return id.String()
}
