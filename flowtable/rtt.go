package flowtable

import (
	"math"
	"math/bits"
)

// rttStats keeps RTT samples in bounded memory: count, min, max and a
// log-scale histogram for the median. Bucket i holds samples in
// [rttBase*2^(i/3), rttBase*2^((i+1)/3)): three buckets per doubling, so the
// median estimate (the bucket's geometric middle) is within about 12%.
// Counts are bytes; when one saturates, all are halved (the shape stays).
type rttStats struct {
	min, max int64
	n        uint32 // after the int64s: no padding (8 bytes a flow)
	hist     [rttBuckets]uint8
}

const (
	rttBuckets = 66   // 2^22 range: 4 µs .. 16.8 s; outliers clamp
	rttBase    = 4000 // ns
)

// rttBounds[i] is the smallest sample of bucket i: ceil(rttBase*2^(i/3)).
var rttBounds = func() (b [rttBuckets]int64) {
	for i := range b {
		b[i] = int64(math.Ceil(rttBase * math.Exp2(float64(i)/3)))
	}
	return b
}()

// rttBucket is floor(3*log2(d/rttBase)) in integers: the bit length of d
// gives the bucket to within four, the bounds table settles it.
func rttBucket(d int64) int {
	if d <= rttBase {
		return 0
	}
	// d in [2^(L-1), 2^L) puts 3*log2(d/4000) in [3L-38.9, 3L-35.9).
	b := 3*bits.Len64(uint64(d)) - 39
	if b < 0 {
		b = 0
	}
	for b+1 < rttBuckets && d >= rttBounds[b+1] {
		b++
	}
	if b >= rttBuckets {
		b = rttBuckets - 1
	}
	return b
}

func (r *rttStats) add(d int64) {
	if d < 0 {
		return
	}
	if r.n == 0 || d < r.min {
		r.min = d
	}
	if d > r.max {
		r.max = d
	}
	r.n++
	b := rttBucket(d)
	if r.hist[b] == math.MaxUint8 {
		for i := range r.hist {
			r.hist[i] = (r.hist[i] + 1) / 2
		}
	}
	r.hist[b]++
}

// median estimates the median sample, clamped to [min, max].
func (r *rttStats) median() int64 {
	if r.n == 0 {
		return 0
	}
	var total uint32
	for _, c := range r.hist {
		total += uint32(c)
	}
	half := (total + 1) / 2
	var acc uint32
	for i, c := range r.hist {
		acc += uint32(c)
		if acc >= half {
			m := int64(rttBase * math.Exp2((float64(i)+0.5)/3))
			if m < r.min {
				m = r.min
			}
			if m > r.max {
				m = r.max
			}
			return m
		}
	}
	return r.max
}

// sent records a data segment ending at end, sent at now, that RTT samples
// may come from; when the direction's ring is full it is not recorded.
func (c *flowCold) sent(side uint, end uint32, now int64) {
	side &= 1
	if n := c.ringN[side]; n < ringSize {
		c.ring[side][(c.ringHead[side]+n)%ringSize] = unacked{end: end, t: now}
		c.ringN[side]++
	}
}

// acked removes the segments of direction o that ack covers and returns
// the time since the last of them was sent, or -1 when none is covered or
// the last was retransmitted (Karn's rule).
func (c *flowCold) acked(o uint, ack uint32, now int64) int64 {
	o &= 1
	sample := int64(-1)
	for c.ringN[o] > 0 {
		e := &c.ring[o][c.ringHead[o]]
		if !seqLE(e.end, ack) {
			break
		}
		sample = -1
		if !e.retrans {
			sample = now - e.t
		}
		c.ringHead[o] = (c.ringHead[o] + 1) % ringSize
		c.ringN[o]--
	}
	return sample
}

// echoed takes the TSval armed by direction o off when tsecr echoes it,
// and returns the time since it was sent, or -1.
func (c *flowCold) echoed(o uint, tsecr uint32, now int64) int64 {
	if pr := &c.ts[o&1]; pr.armed && tsecr == pr.val {
		pr.armed = false
		return now - pr.t
	}
	return -1
}

// arm times a TSval sent at now, unless one of the direction is still
// awaiting its echo (or it is the same value).
func (c *flowCold) arm(side uint, tsval uint32, now int64) {
	if own := &c.ts[side&1]; !own.armed && tsval != own.val {
		own.val, own.t, own.armed = tsval, now, true
	}
}
