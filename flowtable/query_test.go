package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"testing"
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
