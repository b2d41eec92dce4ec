package httpapi

import (
	"context"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

// regionBackend answers WaitRegion with a fixed count and records what
// it was asked.
type regionBackend struct {
	*apitest.Backend
	have  int
	asked []int
}

func (b *regionBackend) WaitRegion(ctx context.Context, t api.Token, n int) (int, error) {
	b.asked = append(b.asked, n)
	if b.have >= n {
		return b.have, nil
	}
	<-ctx.Done()
	return b.have, ctx.Err()
}

// TestWaitRegionScope: /v1/wait with scope "region" asks WaitRegion; a
// backend without regions refuses it; an unknown scope is refused.
func TestWaitRegionScope(t *testing.T) {
	plain := start(t, Config{})
	plain.expect(200, "", "PUT", "/v1/kv/a", "1")
	tok := tokenString(plain, 1)
	plain.expect(400, "", "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region"}`)
	plain.expect(400, "", "POST", "/v1/wait", `{"token":"`+tok+`","scope":"planet"}`)
	plain.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"cluster"}`)

	rb := &regionBackend{have: 2}
	f := startWrapped(t, Config{}, func(b *apitest.Backend) api.Backend { rb.Backend = b; return rb })
	f.expect(200, "", "PUT", "/v1/kv/a", "1")
	tok = tokenString(f, 1)
	f.expect(200, `{"members":2,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region","members":2}`)
	f.expect(200, `{"members":2,"reached":false}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region","members":3,"timeout_ms":20}`)
	f.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","members":1}`)
	if len(rb.asked) != 2 || rb.asked[0] != 2 || rb.asked[1] != 3 {
		t.Fatalf("WaitRegion asked %v, want [2 3]", rb.asked)
	}
}
