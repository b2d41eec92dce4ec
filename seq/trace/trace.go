package trace

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxTraceBytes bounds the decompressed JSON of one trace; a larger one is
// refused (ErrTrace).
const MaxTraceBytes = 1 << 30

// ErrTrace is returned for a file that is not a trace this package reads.
var ErrTrace = errors.New("trace: not an editing trace")

// Patch is one edit: delete Del code points at Pos, then insert Ins there.
type Patch struct {
	Pos, Del int
	Ins      string
}

// Txn is one transaction of patches, applied in order.
type Txn struct {
	Agent   int   // concurrent traces: the agent that made it
	Parents []int // concurrent traces: earlier transactions it follows
	Patches []Patch
}

// Trace is a parsed editing trace.
type Trace struct {
	Start, End string
	Concurrent bool
	Agents     int
	Txns       []Txn
}

// Ops is the number of edits: one per patch part (a deletion, an
// insertion); in the published traces every patch is one keystroke.
func (t *Trace) Ops() int {
	n := 0
	for i := range t.Txns {
		for _, p := range t.Txns[i].Patches {
			if p.Del > 0 {
				n++
			}
			if p.Ins != "" {
				n++
			}
		}
	}
	return n
}

// Parse reads a trace from its gzip-compressed JSON.
func Parse(compressed []byte) (*Trace, error) {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrace, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxTraceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrace, err)
	}
	if len(raw) > MaxTraceBytes {
		return nil, fmt.Errorf("%w: above %d bytes", ErrTrace, MaxTraceBytes)
	}
	var doc struct {
		Kind         string `json:"kind"`
		StartContent string `json:"startContent"`
		EndContent   string `json:"endContent"`
		NumAgents    int    `json:"numAgents"`
		Txns         []struct {
			Parents []int                `json:"parents"`
			Agent   int                  `json:"agent"`
			Patches [][3]json.RawMessage `json:"patches"`
		} `json:"txns"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrace, err)
	}
	t := &Trace{Start: doc.StartContent, End: doc.EndContent, Concurrent: doc.Kind == "concurrent", Agents: doc.NumAgents}
	if t.Concurrent && t.Start != "" {
		return nil, fmt.Errorf("%w: a concurrent trace starts empty", ErrTrace)
	}
	if t.Agents == 0 {
		t.Agents = 1
	}
	t.Txns = make([]Txn, len(doc.Txns))
	for i, dt := range doc.Txns {
		tx := &t.Txns[i]
		tx.Agent, tx.Parents = dt.Agent, dt.Parents
		if tx.Agent < 0 || tx.Agent >= t.Agents {
			return nil, fmt.Errorf("%w: txn %d: agent %d of %d", ErrTrace, i, tx.Agent, t.Agents)
		}
		for _, p := range tx.Parents {
			if p < 0 || p >= i {
				return nil, fmt.Errorf("%w: txn %d: parent %d", ErrTrace, i, p)
			}
		}
		for _, raw := range dt.Patches {
			var p Patch
			if json.Unmarshal(raw[0], &p.Pos) != nil || json.Unmarshal(raw[1], &p.Del) != nil || json.Unmarshal(raw[2], &p.Ins) != nil {
				return nil, fmt.Errorf("%w: txn %d: patch", ErrTrace, i)
			}
			if p.Pos < 0 || p.Del < 0 || !utf8.ValidString(p.Ins) {
				return nil, fmt.Errorf("%w: txn %d: patch", ErrTrace, i)
			}
			tx.Patches = append(tx.Patches, p)
		}
	}
	return t, nil
}
