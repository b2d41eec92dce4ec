package invariants

import "testing"

func TestCheck(t *testing.T) {
	Check(true, "never fires")
	defer func() {
		r := recover()
		if Enabled && r == nil {
			t.Fatal("Check(false) did not panic with invariants enabled")
		}
		if !Enabled && r != nil {
			t.Fatalf("Check(false) panicked without the invariants tag: %v", r)
		}
	}()
	Check(false, "fires only with the tag")
}
