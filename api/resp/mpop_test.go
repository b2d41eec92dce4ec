package resp

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBlockingMPops: BZPOPMIN, BZMPOP and BLMPOP wait for a write on the
// node and return what it added, through go-redis (RESP3).
func TestBlockingMPops(t *testing.T) {
	f := start(t, Config{})
	ctx := context.Background()
	c := f.client()
	r := f.raw()

	zgot := make(chan *redis.ZWithKey, 1)
	go func() {
		res, err := c.BZPopMin(ctx, 5*time.Second, "z1", "z2").Result()
		if err != nil {
			t.Error(err)
		}
		zgot <- res
	}()
	waitBlocked(t, f.server, 1)
	r.expect(":1", "ZADD", "z2", "2.5", "m")
	select {
	case res := <-zgot:
		if res == nil || res.Key != "z2" || res.Member != "m" || res.Score != 2.5 {
			t.Fatalf("BZPOPMIN got %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BZPOPMIN not woken")
	}

	type mpop struct {
		key   string
		elems []string
	}
	lgot := make(chan mpop, 1)
	go func() {
		key, elems, err := c.BLMPop(ctx, 5*time.Second, "right", 2, "l1", "l2").Result()
		if err != nil {
			t.Error(err)
		}
		lgot <- mpop{key, elems}
	}()
	waitBlocked(t, f.server, 1)
	r.expect(":3", "RPUSH", "l1", "a", "b", "c")
	select {
	case res := <-lgot:
		if res.key != "l1" || len(res.elems) != 2 || res.elems[0] != "c" || res.elems[1] != "b" {
			t.Fatalf("BLMPOP got %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BLMPOP not woken")
	}

	zm := make(chan []redis.Z, 1)
	go func() {
		_, zs, err := c.BZMPop(ctx, 5*time.Second, "max", 5, "z3").Result()
		if err != nil {
			t.Error(err)
		}
		zm <- zs
	}()
	waitBlocked(t, f.server, 1)
	r.expect(":2", "ZADD", "z3", "1", "a", "2", "b")
	select {
	case zs := <-zm:
		if len(zs) != 2 || zs[0].Member != "b" || zs[0].Score != 2 || zs[1].Member != "a" {
			t.Fatalf("BZMPOP got %+v", zs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BZMPOP not woken")
	}
	r.expect("(nil)", "BZPOPMAX", "none", "0.01")
}
