package correlate

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/track"
	"slices"
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

// TestSplitsLikeFlowTable: on every shared capture, correlate and the flow
// table split each pair of TCP endpoints into the same connections (the
// same number, started by the same frames) by flowrule.Reuses.
func TestSplitsLikeFlowTable(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	compared, reused := 0, 0
	for _, e := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, e.File)
		flows, _, err := track.File(path, nil)
		if err != nil && len(flows) == 0 {
			continue
		}
		c, _ := ReadFile(path)
		if c == nil {
			continue
		}
		tableStarts := map[[2]netip.AddrPort][]uint64{}
		for _, f := range flows {
			if f.Proto == decode.ProtoTCP {
				k := [2]netip.AddrPort{unmap(f.Client), unmap(f.Server)}
				tableStarts[k] = append(tableStarts[k], f.FirstFrame)
			}
		}
		c.finish()
		ours := map[[2]netip.AddrPort][]uint64{}
		for i := range c.flows.len() {
			f := c.flows.at(int32(i))
			k := [2]netip.AddrPort{unmap(f.client), unmap(f.server)}
			if recs := c.flowRecs(int32(i)); len(recs) > 0 {
				ours[k] = append(ours[k], uint64(c.recs.at(recs[0]).frame))
			}
		}
		for k, want := range tableStarts {
			got, ok := ours[k]
			if !ok {
				continue // spelled differently (VLAN, IPv4-mapped), or not a connection correlate keeps
			}
			slices.Sort(want)
			slices.Sort(got)
			compared++
			if len(want) > 1 {
				reused++
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v -> %v: correlate's connections start at frames %v, the flow table's at %v", e.File, k[0], k[1], got, want)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no connection compared")
	}
	t.Logf("%d endpoint pairs split alike, %d of them into several connections", compared, reused)
}

// TestReusesSynthetic: a SYN with a new ISN after a closed connection
// opens a second one; a SYN repeating the ISN, even after a reset, is a
// retransmission; in both packages.
func TestReusesSynthetic(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	seg := func(from, to netip.AddrPort, seq, ack uint32, flags uint16) []byte {
		return pkttest.TCPFrame(from, to, pkttest.TCP{Seq: seq, Ack: ack, Flags: flags, Win: 1000}, nil)
	}
	const S, A, F, R = pkttest.SYN, pkttest.ACK, pkttest.FIN, pkttest.RST
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   int
	}{
		{"new ISN after FINs", [][]byte{
			seg(cl, sv, 100, 0, S), seg(sv, cl, 900, 101, S|A), seg(cl, sv, 101, 901, A),
			seg(cl, sv, 101, 901, F|A), seg(sv, cl, 901, 102, F|A), seg(cl, sv, 102, 902, A),
			seg(cl, sv, 5000, 0, S), seg(sv, cl, 7000, 5001, S|A), seg(cl, sv, 5001, 7001, A)}, 2},
		{"same ISN after a reset", [][]byte{
			seg(cl, sv, 100, 0, S), seg(sv, cl, 0, 101, R|A), seg(cl, sv, 100, 0, S)}, 1},
		{"SYN of a connection seen mid-stream", [][]byte{
			seg(sv, cl, 900, 101, A), seg(cl, sv, 101, 901, A), seg(cl, sv, 5000, 0, S)}, 2},
		{"SYN at the base a mid-stream ACK gave", [][]byte{
			seg(sv, cl, 900, 101, A), seg(cl, sv, 100, 0, S)}, 1},
	} {
		path := pkttest.WriteFile(t, "reuse.pcap", pkttest.Pcap(1, pkttest.Frames(1e18, tc.frames...)...))
		flows, _, err := track.File(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) != tc.want || c.flows.len() != tc.want {
			t.Errorf("%s: flow table %d connections, correlate %d; want %d", tc.name, len(flows), c.flows.len(), tc.want)
		}
	}
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
