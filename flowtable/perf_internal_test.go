package flowtable

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// The integer bucket agrees with its definition, floor(3*log2(d/rttBase)),
// wherever float rounding cannot blur the answer.
func TestRTTBucketMatchesLog(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200_000; i++ {
		d := int64(r.Uint64N(1 << uint(1+r.IntN(40))))
		want := 0
		if d > rttBase {
			x := 3 * math.Log2(float64(d)/rttBase)
			if math.Abs(x-math.Round(x)) < 1e-9 {
				continue // on a bound
			}
			want = min(int(x), rttBuckets-1)
		}
		if got := rttBucket(d); got != want {
			t.Fatalf("rttBucket(%d) = %d, want %d", d, got, want)
		}
	}
	for i, b := range rttBounds {
		if i > 0 && (rttBucket(b) != i || rttBucket(b-1) != i-1) {
			t.Fatalf("bound %d (%d ns): buckets %d, %d", i, b, rttBucket(b-1), rttBucket(b))
		}
	}
}

// addrWords reads the same words as As16, whichever path it takes.
func TestAddrWords(t *testing.T) {
	if !addrLayoutOK {
		t.Log("netip.Addr layout changed: addrWords uses As16")
	}
	for _, s := range []string{"192.168.1.1", "10.0.0.255", "::1", "2001:db8:1:2:3:4:5:6", "fe80::1%lo", "::ffff:10.0.0.1"} {
		a := netip.MustParseAddr(s)
		b := a.As16()
		hi, lo := addrWords(&a)
		if hi != binary.BigEndian.Uint64(b[:8]) || lo != binary.BigEndian.Uint64(b[8:]) {
			t.Errorf("%s: words %x %x", s, hi, lo)
		}
	}
}
