package correlate

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/track"
)

// TestSameClientAsFlowTable: on every shared capture, correlate and the
// flow table name the same client for the first connection of every pair
// of TCP endpoints (later ones may split differently on port reuse).
func TestSameClientAsFlowTable(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	type pair [2]netip.AddrPort
	unordered := func(a, b netip.AddrPort) pair {
		if a.Compare(b) > 0 {
			a, b = b, a
		}
		return pair{a, b}
	}
	compared := 0
	for _, e := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, e.File)
		flows, _, err := track.File(path, nil)
		if err != nil && len(flows) == 0 {
			continue // not a capture the reader takes
		}
		table := map[pair]netip.AddrPort{}
		for _, f := range flows {
			k := unordered(f.Client, f.Server)
			if _, seen := table[k]; !seen && f.Proto == decode.ProtoTCP {
				table[k] = f.Client
			}
		}
		c, _ := ReadFile(path)
		if c == nil {
			continue
		}
		seen := map[pair]bool{}
		for i := range c.flows.len() {
			f := c.flows.at(int32(i))
			k := unordered(f.client, f.server)
			if seen[k] {
				continue
			}
			seen[k] = true
			want, ok := table[k]
			if !ok {
				continue // VLAN or IPv4-mapped spelling differences are not this test's
			}
			compared++
			if f.client.Addr().Unmap() != want.Addr().Unmap() || f.client.Port() != want.Port() {
				t.Errorf("%s: %v <> %v: correlate's client %v, the flow table's %v", e.File, k[0], k[1], f.client, want)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no connection compared")
	}
	t.Logf("%d connections name the same client", compared)
}
