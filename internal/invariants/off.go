//go:build !invariants

package invariants

// Enabled reports whether expensive invariant checks run: false unless
// built with the invariants tag.
const Enabled = false
