package apitest

import (
	"context"

	"github.com/spooksystems/spook/api"
)

// RegionBackend is a Backend with regions (api.RegionWaiter): WaitRegion
// answers Have region members at once when that is enough, else waits
// for the context, and records each count it was asked for in Asked.
// Tests of the RESP and HTTP surfaces share it.
type RegionBackend struct {
	*Backend
	Have  int
	Asked []int
}

// WaitRegion implements api.RegionWaiter.
func (b *RegionBackend) WaitRegion(ctx context.Context, _ api.Token, n int) (int, error) {
	b.Asked = append(b.Asked, n)
	if b.Have >= n {
		return b.Have, nil
	}
	<-ctx.Done()
	return b.Have, ctx.Err()
}
