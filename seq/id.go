package seq

// ID names one element: the transaction that inserted it (Node, Counter:
// its dot) and its index among the elements that transaction inserted
// into this sequence (Offset). The zero ID (Node 0) names no element: as
// an origin it stands for an end of the sequence.
type ID struct {
	Node    uint64
	Counter uint64
	Offset  uint64
}

// IsZero reports whether id names no element.
func (id ID) IsZero() bool { return id.Node == 0 }

// Less orders IDs by (Node, Counter, Offset): the order of the ID index
// and of canonical lists of ranges.
func (id ID) Less(o ID) bool {
	if id.Node != o.Node {
		return id.Node < o.Node
	}
	if id.Counter != o.Counter {
		return id.Counter < o.Counter
	}
	return id.Offset < o.Offset
}

// hash combines an ID's fields for digests (not yet mixed: every digest
// term mixes once).
func (id ID) hash() uint64 {
	return id.Node*0x9e3779b97f4a7c15 ^ (id.Counter+0x632be59bd9b4e019)*0xbf58476d1ce4e5b9 ^ id.Offset*0xd6e8feb86659fd93
}

// Range names N elements starting at ID: stepping the offset (the
// elements one transaction inserted together) or, if Counter is set, the
// counter with offset 0 (single-element transactions of one node in a
// row, such as typed characters, one per transaction). A deletion is a
// list of ranges.
type Range struct {
	ID      ID
	N       int
	Counter bool
}

// At returns the i-th element of r.
func (r Range) At(i int) ID {
	if r.Counter {
		return ID{Node: r.ID.Node, Counter: r.ID.Counter + uint64(i)}
	}
	return ID{Node: r.ID.Node, Counter: r.ID.Counter, Offset: r.ID.Offset + uint64(i)}
}

// Insert is an insertion: N elements with IDs ID, ID+1, … (offsets), placed
// between the elements Left and Right, which were adjacent (tombstones
// included) where it was made. Sole says these are the only elements
// their transaction inserted into the sequence (N is 1 and Offset 0): such
// an element may extend a counter-stepping run.
type Insert[T Content[T]] struct {
	ID      ID
	Left    ID // zero: the start of the sequence
	Right   ID // zero: the end of the sequence
	N       int
	Content T
	Sole    bool
}
