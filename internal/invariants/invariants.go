package invariants

import "fmt"

// Check panics with the formatted message if cond is false and invariant
// checks are enabled. Use it for conditions whose violation means a bug in
// Spook, never for bad input.
func Check(cond bool, format string, args ...any) {
	if Enabled && !cond {
		panic(fmt.Sprintf("invariant violated: "+format, args...))
	}
}
