package httpapi

import (
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

// TestWaitRegionScope: /v1/wait with scope "region" asks WaitRegion; a
// backend without regions refuses it; an unknown scope is refused.
func TestWaitRegionScope(t *testing.T) {
	plain := start(t, Config{})
	plain.expect(200, "", "PUT", "/v1/kv/a", "1")
	tok := tokenString(plain, 1)
	plain.expect(400, "", "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region"}`)
	plain.expect(400, "", "POST", "/v1/wait", `{"token":"`+tok+`","scope":"planet"}`)
	plain.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"cluster"}`)

	rb := &apitest.RegionBackend{Have: 2}
	f := startWrapped(t, Config{}, func(b *apitest.Backend) api.Backend { rb.Backend = b; return rb })
	f.expect(200, "", "PUT", "/v1/kv/a", "1")
	tok = tokenString(f, 1)
	f.expect(200, `{"members":2,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region","members":2}`)
	f.expect(200, `{"members":2,"reached":false}`, "POST", "/v1/wait", `{"token":"`+tok+`","scope":"region","members":3,"timeout_ms":20}`)
	f.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","members":1}`)
	if len(rb.Asked) != 2 || rb.Asked[0] != 2 || rb.Asked[1] != 3 {
		t.Fatalf("WaitRegion asked %v, want [2 3]", rb.Asked)
	}
}
