package transport

import (
	"testing"
	"time"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/wire"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pki is a test cluster: a CA, node certificates for "a" and "b", a node
// certificate from another CA, and an expired one from the right CA.
type pki struct {
	a, b, foreign, expired *certs.Bundle
}

var testPKI = func() *pki {
	now := time.Now()
	ca, err := certs.NewCA("test cluster", 0, now)
	if err != nil {
		panic(err)
	}
	other, err := certs.NewCA("other cluster", 0, now)
	if err != nil {
		panic(err)
	}
	issue := func(ca *certs.CA, req certs.Request) *certs.Bundle {
		p, err := ca.Issue(req, now)
		if err != nil {
			panic(err)
		}
		return certs.NewBundle(ca, p)
	}
	return &pki{
		a:       issue(ca, certs.Request{Name: "a"}),
		b:       issue(ca, certs.Request{Name: "b"}),
		foreign: issue(other, certs.Request{Name: "a"}),
		expired: issue(ca, certs.Request{Name: "a", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}),
	}
}()

func wireConfig(name, cluster string) wire.Config {
	return wire.Config{Local: wire.Hello{
		ClusterID: cluster,
		Node:      causal.NodeIDFromName(name),
		NodeName:  name,
	}}
}

// foreignB is a certificate for "b" from another CA.
func (p *pki) foreignB() *certs.Bundle { return p.foreign }

// expiredB is an expired certificate from the right CA.
func (p *pki) expiredB() *certs.Bundle { return p.expired }
