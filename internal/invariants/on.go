//go:build invariants

package invariants

// Enabled reports whether expensive invariant checks run: true in builds
// with the invariants tag.
const Enabled = true
