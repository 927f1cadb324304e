package correlate

import (
	"math"
)

// Clock relates the server-side capture's clock to the client side's:
// server time = client-side time + Offset + Drift*(client-side time - Ref).
type Clock struct {
	// Offset is the server clock minus the client-side clock at Ref, in ns.
	Offset float64
	// Drift is how fast the server clock gains on the client side's,
	// as a ratio (20 ppm = 20e-6).
	Drift float64
	// Ref is the client-side time the offset is given at (its first packet).
	Ref int64
	// Uncertainty bounds the offset's error in ns: half the shortest round
	// trip between the points, since the estimate assumes the shortest
	// one-way delays are equal and only their sum is known.
	Uncertainty float64
	// DriftUncertainty is half the difference between the drifts the two
	// directions show (0 when not fitted). A drift smaller than three
	// times it, or that moves the clocks apart by less than 0.25 ms over
	// the capture, is reported as 0.
	DriftUncertainty float64
	// Source says where the numbers came from: "estimated", "given" or
	// "none" (no packet matched in both directions).
	Source string
	// Samples counts the matched packets used, by direction.
	Samples [2]int
	// MinTransit is the shortest one-way delay between the points seen in
	// each direction after correction, in ns.
	MinTransit [2]int64
}

// toServer converts a client-side timestamp to the server capture's clock.
func (c *Clock) toServer(t int64) int64 {
	return t + int64(math.Round(c.Offset+c.Drift*float64(t-c.Ref)))
}

// toClient converts a server-side timestamp to the client side's clock.
func (c *Clock) toClient(t int64) int64 {
	// Invert t = u + Offset + Drift*(u-Ref) for u.
	return c.Ref + int64(math.Round((float64(t-c.Ref)-c.Offset)/(1+c.Drift)))
}

// Bucketing for the drift fit: at most maxBuckets buckets of at least
// minBucket each; drift is fitted only over captures of minDriftSpan or
// more with minDriftBuckets usable buckets.
const (
	maxBuckets      = 64
	minBucket       = 100e6 // ns
	minDriftSpan    = 2e9   // ns
	minDriftBuckets = 8
	// minDriftEffect is the least change a drift must make to the offset
	// over the capture (ns) to be reported: below it, queueing noise in
	// the bucket minima is as large.
	minDriftEffect = 250e3
	// minBucketSamples is how many matched packets each way a bucket
	// needs to take part in the drift fit.
	minBucketSamples = 3
)

// estimateClock computes the offset and drift NTP-style: for a packet
// matched at both points, server time minus client-side time is
// offset+transit going to the server and offset-transit coming back, so
// the smallest value each way (least queueing) brackets the offset. Drift
// is the slope of the lower envelope of per-bucket minima, fitted in each
// direction and kept when both agree; the offset is then the midpoint of
// the two smallest delays once the drift is taken out.
func estimateClock(a, b *Capture, ma []int32) Clock {
	c := Clock{Ref: a.First, Source: "none"}
	var mins [2][maxBuckets]int64
	var cnt [2][maxBuckets]int32
	for d := range mins {
		for i := range mins[d] {
			mins[d][i] = math.MaxInt64
		}
	}
	span := a.Last - a.First
	nb := int(min(max(span/minBucket, 1), maxBuckets))
	bucket := func(t int64) int {
		return int(min(max((t-a.First)*int64(nb)/(span+1), 0), int64(nb-1)))
	}
	for i, j := range ma {
		if j < 0 {
			continue
		}
		ra, rb := a.recs.at(int32(i)), b.recs.at(j)
		d := ra.dir()
		v := rb.ts - ra.ts // offset + transit (c2s) or offset - transit (s2c)
		if d == s2c {
			v = -v
		}
		c.Samples[d]++
		k := bucket(ra.ts)
		mins[d][k] = min(mins[d][k], v)
		cnt[d][k]++
	}
	if c.Samples[c2s] == 0 || c.Samples[s2c] == 0 {
		if c.Samples[c2s]+c.Samples[s2c] > 0 {
			// One direction only: the offset is known to within the
			// one-way delay; take the smallest difference as it.
			d := c2s
			if c.Samples[c2s] == 0 {
				d = s2c
			}
			m := int64(math.MaxInt64)
			for _, v := range mins[d][:nb] {
				m = min(m, v)
			}
			if d == s2c {
				m = -m
			}
			c.Offset = float64(m)
			c.Uncertainty = math.Inf(1)
			c.Source = "estimated"
		}
		return c
	}
	c.Source = "estimated"

	// Drift: each direction's bucket minima trace the least delay over
	// time, which the drift tilts up in one direction and down in the
	// other. Fit each one's lower envelope (queueing only ever adds) and
	// keep the drift only when the two directions agree on it.
	if span >= minDriftSpan {
		var slope [2]float64
		ok := true
		bw := float64(span+1) / float64(nb)
		for d := range 2 {
			var xs, ys []float64
			for k := range nb {
				if cnt[d][k] >= minBucketSamples {
					xs = append(xs, (float64(k)+0.5)*bw)
					ys = append(ys, float64(mins[d][k]))
				}
			}
			if len(xs) < minDriftBuckets {
				ok = false
				break
			}
			slope[d] = lowerEnvelopeSlope(xs, ys)
		}
		if ok {
			// c2s minima rise with the drift, s2c minima fall.
			r1, r2 := slope[c2s], -slope[s2c]
			c.Drift = (r1 + r2) / 2
			c.DriftUncertainty = math.Abs(r1-r2)/2 + 1e-7
			// Keep it when the directions agree on it and it moves the
			// clock measurably over the capture.
			if math.Abs(c.Drift) < 3*c.DriftUncertainty || math.Abs(c.Drift)*float64(span) < minDriftEffect {
				c.Drift = 0
			}
		}
	}

	// Smallest delay each way with the drift removed.
	m := [2]float64{math.Inf(1), math.Inf(1)}
	for i, j := range ma {
		if j < 0 {
			continue
		}
		ra, rb := a.recs.at(int32(i)), b.recs.at(j)
		dr := c.Drift * float64(ra.ts-a.First)
		v := float64(rb.ts-ra.ts) - dr
		d := ra.dir()
		if d == s2c {
			v = -v
		}
		m[d] = min(m[d], v)
	}
	c.Offset = (m[c2s] - m[s2c]) / 2
	c.Uncertainty = (m[c2s] + m[s2c]) / 2
	c.MinTransit = [2]int64{int64(c.Uncertainty), int64(c.Uncertainty)}
	return c
}

// lowerEnvelopeSlope fits the line that lies on or below every point and
// is closest to them in sum (the lower envelope of delays, as in Moon et
// al.'s clock-skew estimation); such a line runs along an edge of the
// points' lower convex hull, so trying each edge suffices. xs must be
// increasing.
func lowerEnvelopeSlope(xs, ys []float64) float64 {
	// Lower hull by the monotone chain.
	hull := make([]int, 0, len(xs))
	for i := range xs {
		for len(hull) >= 2 {
			o, a := hull[len(hull)-2], hull[len(hull)-1]
			if (xs[a]-xs[o])*(ys[i]-ys[o])-(ys[a]-ys[o])*(xs[i]-xs[o]) > 0 {
				break
			}
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, i)
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	// The sum of distances above the line through (x0, y0) with slope b
	// is n*(my - y0 - b*(mx - x0)); minimise it over the hull's edges.
	best, bestCost := 0.0, math.Inf(1)
	for k := 0; k+1 < len(hull); k++ {
		p, q := hull[k], hull[k+1]
		b := (ys[q] - ys[p]) / (xs[q] - xs[p])
		if cost := my - ys[p] - b*(mx-xs[p]); cost < bestCost {
			best, bestCost = b, cost
		}
	}
	return best
}

// givenClock is the clock for an offset the user knows.
func givenClock(a *Capture, offset int64) Clock {
	return Clock{Ref: a.First, Offset: float64(offset), Source: "given"}
}
