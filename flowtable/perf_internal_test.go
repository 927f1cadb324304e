package flowtable

import (
	"math"
	"math/rand/v2"
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
