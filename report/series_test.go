package report_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netblame/netblame/report"
)

// TestReduceKeepsBucketExtremes reduces random series and checks that
// every bucket's least Lo and greatest Hi are still there, in the same
// bucket, that the output stays in time order and within 2 points a
// bucket.
func TestReduceKeepsBucketExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 1 + rng.IntN(300)
		buckets := 1 + rng.IntN(60)
		pts := make([]report.Point, n)
		ts := int64(rng.IntN(1000))
		for i := range pts {
			ts += int64(rng.IntN(50)) // repeated times too
			lo := rng.NormFloat64() * 100
			if rng.IntN(20) == 0 {
				lo *= 50 // a spike
			}
			pts[i] = report.Point{T: ts, Lo: lo, Hi: lo + float64(rng.IntN(3))*rng.Float64()*10}
		}
		t0, t1 := pts[0].T, pts[n-1].T
		span := t1 - t0 + 1
		bucket := func(ts int64) int { return min(int((ts-t0)*int64(buckets)/span), buckets-1) }
		lo := make([]float64, buckets)
		hi := make([]float64, buckets)
		for b := range buckets {
			lo[b], hi[b] = math.Inf(1), math.Inf(-1)
		}
		for _, p := range pts {
			b := bucket(p.T)
			lo[b], hi[b] = min(lo[b], p.Lo), max(hi[b], p.Hi)
		}
		in := append([]report.Point(nil), pts...)
		out := report.Reduce(in, t0, t1, buckets)
		if n <= 2*buckets {
			if len(out) != n {
				t.Fatalf("trial %d: %d points at %d buckets were reduced to %d", trial, n, buckets, len(out))
			}
			continue
		}
		if len(out) > 2*buckets {
			t.Errorf("trial %d: %d points for %d buckets", trial, len(out), buckets)
		}
		gotLo := make([]float64, buckets)
		gotHi := make([]float64, buckets)
		for b := range buckets {
			gotLo[b], gotHi[b] = math.Inf(1), math.Inf(-1)
		}
		for i, p := range out {
			if i > 0 && p.T < out[i-1].T {
				t.Fatalf("trial %d: output out of time order at %d", trial, i)
			}
			b := bucket(p.T)
			gotLo[b], gotHi[b] = min(gotLo[b], p.Lo), max(gotHi[b], p.Hi)
		}
		for b := range buckets {
			if gotLo[b] != lo[b] || gotHi[b] != hi[b] {
				t.Errorf("trial %d bucket %d: min/max %v/%v, reduced %v/%v", trial, b, lo[b], hi[b], gotLo[b], gotHi[b])
			}
		}
	}
}

// TestDropRuns keeps the ends of each run of equal values and every change.
func TestDropRuns(t *testing.T) {
	v := func(t int64, x float64) report.Point { return report.Point{T: t, Lo: x, Hi: x} }
	in := []report.Point{v(0, 5), v(1, 5), v(2, 5), v(3, 5), v(4, 7), v(5, 7), v(6, 5), v(7, 5), v(8, 5)}
	want := []report.Point{v(0, 5), v(3, 5), v(4, 7), v(5, 7), v(6, 5), v(8, 5)}
	got := report.DropRuns(append([]report.Point(nil), in...))
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
