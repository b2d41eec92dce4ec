package causal

import (
	"testing"

	"github.com/spooksystems/spook/internal/proptest"
)

// TestMain runs 10,000 cases per property unless -rapid.checks says otherwise.
func TestMain(m *testing.M) { proptest.Main(m) }
