package correlate

import (
	"math"
	"slices"
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
	// DriftUncertainty is the standard error of Drift (0 when not fitted).
	// A drift smaller than twice it is reported as 0.
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
	// minBucketSamples is how many matched packets each way a bucket
	// needs to take part in the drift fit.
	minBucketSamples = 3
)

// estimateClock computes the offset and drift NTP-style: for a packet
// matched at both points, server time minus client-side time is
// offset+transit going to the server and offset-transit coming back, so
// the smallest value each way (least queueing) brackets the offset. Drift
// is the robust (Theil-Sen) slope of that midpoint over time, per bucket
// of time; the offset is then the midpoint of the two smallest delays once
// the drift is taken out.
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

	// Per-bucket offset estimates where both directions have packets.
	var ts, os []float64
	bw := float64(span+1) / float64(nb)
	for k := range nb {
		// A bucket's minimum is only near the true least delay when it
		// holds a few packets each way.
		if cnt[c2s][k] < minBucketSamples || cnt[s2c][k] < minBucketSamples {
			continue
		}
		ts = append(ts, (float64(k)+0.5)*bw)
		os = append(os, float64(mins[c2s][k]-mins[s2c][k])/2)
	}
	if span >= minDriftSpan && len(ts) >= minDriftBuckets {
		c.Drift = theilSen(ts, os)
		c.DriftUncertainty = slopeError(ts, os, c.Drift)
		if math.Abs(c.Drift) < 2*c.DriftUncertainty {
			c.Drift = 0 // indistinguishable from none
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

// theilSen returns the median of the slopes between all pairs of points.
func theilSen(x, y []float64) float64 {
	var s []float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			if x[j] != x[i] {
				s = append(s, (y[j]-y[i])/(x[j]-x[i]))
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[len(s)/2]
}

// slopeError is the standard error of slope b fitted to the points: the
// residuals' spread (taken robustly, from their median absolute value)
// over the spread of x.
func slopeError(x, y []float64, b float64) float64 {
	n := len(x)
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	res := make([]float64, n)
	var sxx float64
	for i := range x {
		res[i] = math.Abs(y[i] - my - b*(x[i]-mx))
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	slices.Sort(res)
	sigma := 1.4826 * res[n/2] // MAD to standard deviation for normal noise
	if sxx == 0 {
		return math.Inf(1)
	}
	return sigma / math.Sqrt(sxx)
}

// givenClock is the clock for an offset the user knows.
func givenClock(a *Capture, offset int64) Clock {
	return Clock{Ref: a.First, Offset: float64(offset), Source: "given"}
}
