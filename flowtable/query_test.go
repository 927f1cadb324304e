package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

func TestInProgressSmall(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("10.0.0.2")
	rec := func(c netip.Addr, first, last int64) FlowRecord {
		return FlowRecord{Client: netip.AddrPortFrom(c, 40000), First: first, Last: last}
	}
	x := NewInProgress([]FlowRecord{
		rec(a, 0, 10), rec(a, 5, 6), rec(a, 10, 20), rec(a, 30, 40), rec(b, 0, 100),
	})
	for _, c := range []struct {
		client netip.Addr
		t      int64
		want   int
	}{
		{a, -1, 0},
		{a, 0, 1},
		{a, 5, 2},
		{a, 7, 1},  // 5-6 ended before 7
		{a, 10, 2}, // 0-10 ends and 10-20 starts at 10: both in progress
		{a, 25, 0},
		{a, 40, 1},
		{a, 41, 0},
		{b, 50, 1},
		{netip.MustParseAddr("10.0.0.3"), 5, 0},
	} {
		if got := x.At(c.client, c.t); got != c.want {
			t.Errorf("At(%v, %d) = %d, want %d", c.client, c.t, got, c.want)
		}
	}
}

// TestInProgressBruteForce compares At with counting every record.
func TestInProgressBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	clients := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.2")}
	var recs []FlowRecord
	for i := 0; i < 500; i++ {
		first := r.Int64N(1000)
		recs = append(recs, FlowRecord{
			Client: netip.AddrPortFrom(clients[r.IntN(len(clients))], uint16(r.IntN(65536))),
			First:  first,
			Last:   first + r.Int64N(100),
		})
	}
	x := NewInProgress(recs)
	for q := 0; q < 2000; q++ {
		c, at := clients[r.IntN(len(clients))], r.Int64N(1200)-100
		want := 0
		for _, f := range recs {
			if f.Client.Addr() == c && f.First <= at && f.Last >= at {
				want++
			}
		}
		if got := x.At(c, at); got != want {
			t.Fatalf("At(%v, %d) = %d, brute force %d", c, at, got, want)
		}
	}
}

// TestSlowHandshakes: flows whose SYN-ACK took longer than the bound, by
// SYN time; flows without a SYN or SYN-ACK never count.
func TestSlowHandshakes(t *testing.T) {
	ms := int64(time.Millisecond)
	rec := func(idx uint64, syn int64, wait time.Duration, synAck bool) FlowRecord {
		r := FlowRecord{Index: idx, Proto: 6, SynTime: syn, SynToSynAck: wait}
		if synAck {
			r.SynAckTime = syn + int64(wait)
		}
		return r
	}
	recs := []FlowRecord{
		rec(0, 50*ms, 400*time.Millisecond, true),
		rec(1, 10*ms, 300*time.Millisecond, true), // at the bound: not over it
		rec(2, 20*ms, 900*time.Millisecond, true),
		rec(3, 5*ms, 0, false), // never answered
		rec(4, 60*ms, 10*time.Millisecond, true),
	}
	var got []uint64
	for _, r := range SlowHandshakes(recs, 300*time.Millisecond) {
		got = append(got, r.Index)
	}
	if !slices.Equal(got, []uint64{2, 0}) {
		t.Errorf("slow handshakes %v, want flows 2 then 0", got)
	}
}

// TestResetsBy: TCP flows whose first RST came from the side asked for,
// in RST order, with the client's other connections in progress then.
func TestResetsBy(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:40000")
	b := netip.MustParseAddrPort("10.0.0.9:40000")
	rec := func(idx uint64, cli netip.AddrPort, proto decode.IPProto, first, last int64, by Side, at int64, frame uint64) FlowRecord {
		return FlowRecord{Index: idx, Client: cli, Proto: proto, First: first, Last: last,
			ResetBy: by, FirstResetBy: by, FirstResetTS: at, FirstResetFrame: frame}
	}
	recs := []FlowRecord{
		rec(0, a, 6, 0, 100, SideServer, 100, 90),
		rec(1, a, 6, 10, 200, SideNone, 0, 0),
		rec(2, a, 6, 20, 50, SideServer, 50, 40), // while 0 and 1 are open
		rec(3, a, 17, 0, 300, SideNone, 0, 0),    // UDP: not a connection in progress
		rec(4, b, 6, 0, 60, SideClient, 60, 55),
		rec(5, a, 6, 150, 160, SideNone, 0, 0),
	}
	got := ResetsBy(recs, SideServer)
	if len(got) != 2 || got[0].Index != 2 || got[1].Index != 0 {
		t.Fatalf("reset by the server: %+v, want flows 2 then 0", got)
	}
	if got[0].OtherInProgress != 2 || got[1].OtherInProgress != 1 {
		t.Errorf("other connections in progress %d and %d, want 2 (flows 0, 1) and 1 (flow 1)", got[0].OtherInProgress, got[1].OtherInProgress)
	}
	if c := ResetsBy(recs, SideClient); len(c) != 1 || c[0].Index != 4 || c[0].OtherInProgress != 0 {
		t.Errorf("reset by the client: %+v, want flow 4 alone", c)
	}
}
