package report

// Point is one sample of a series: at time T (ns since the epoch) the
// value spans Lo to Hi. A plain value has Lo == Hi; a segment of a
// time-sequence graph spans its first to its last sequence number.
type Point struct {
	T      int64
	Lo, Hi float64
}

// Reduce keeps, of the points in each of n equal time buckets between t0
// and t1 (inclusive), the point with the least Lo and the point with the
// greatest Hi, in time order (one point when it is both): the min/max
// envelope of the series at n buckets. pts must be in time order; points
// outside [t0, t1] fall in the first or last bucket. The result is
// written over pts (it is never longer) and returned. With 2n points or
// fewer, pts is returned as it is.
func Reduce(pts []Point, t0, t1 int64, n int) []Point {
	if n <= 0 || len(pts) <= 2*n {
		return pts
	}
	span := t1 - t0 + 1
	if span <= 0 {
		span = 1
	}
	out := pts[:0]
	cur := -1      // bucket being scanned
	lo, hi := 0, 0 // indexes of its least and greatest point
	flush := func() {
		if cur < 0 {
			return
		}
		a, b := pts[lo], pts[hi]
		if lo > hi {
			a, b = b, a
		}
		out = append(out, a)
		if lo != hi {
			out = append(out, b)
		}
	}
	for i := range pts {
		b := bucketOf(pts[i].T, t0, span, n)
		if b != cur {
			// out never overtakes i: each bucket writes at most two
			// points, and only after its points were read.
			flush()
			cur, lo, hi = b, i, i
			continue
		}
		if pts[i].Lo < pts[lo].Lo {
			lo = i
		}
		if pts[i].Hi > pts[hi].Hi {
			hi = i
		}
	}
	flush()
	return out
}

// bucketOf is the bucket of time t among n over [t0, t0+span).
func bucketOf(t, t0, span int64, n int) int {
	if t <= t0 {
		return 0
	}
	d := t - t0
	var b int
	if d < 1<<53/int64(n) {
		b = int(d * int64(n) / span)
	} else {
		b = int(float64(d) / float64(span) * float64(n))
	}
	return min(b, n-1)
}

// DropRuns removes the inner points of runs of equal values (Lo and Hi
// both), keeping each run's first and last point: a window that stays at
// 64 KB for a thousand packets needs two points, not a thousand. The
// result is written over pts and returned.
func DropRuns(pts []Point) []Point {
	if len(pts) < 3 {
		return pts
	}
	out := pts[:1]
	for i := 1; i < len(pts)-1; i++ {
		p := pts[i]
		prev, next := out[len(out)-1], pts[i+1]
		if p.Lo == prev.Lo && p.Hi == prev.Hi && p.Lo == next.Lo && p.Hi == next.Hi {
			continue
		}
		out = append(out, p)
	}
	return append(out, pts[len(pts)-1])
}

// chunkPoints is how many points a chunk of a series holds; a series'
// first chunk holds firstChunk.
const (
	chunkPoints = 64
	firstChunk  = 8
)

// pool recycles the chunks of series that were freed: most flows end
// without a section, and their chunks serve the next flows, so the
// collector allocates about its peak, not the sum of every flow.
type pool struct {
	free [][]Point
}

func (p *pool) get() []Point {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free = p.free[:n-1]
		return c[:0]
	}
	return make([]Point, 0, chunkPoints)
}

// series is a growing list of points kept in chunks from a pool, reduced
// when it reaches its cap.
type series struct {
	chunks [][]Point
	n      int
}

// add appends a point and reports how many points the series gained (it
// loses many when it is compacted).
func (s *series) add(t int64, lo, hi float64, maxPoints int, pl *pool) int {
	k := len(s.chunks) - 1
	if k < 0 {
		// Most flows are short: their first chunk is small, and not
		// pooled.
		s.chunks = append(s.chunks, make([]Point, 0, firstChunk))
		k++
	} else if c := s.chunks[k]; len(c) == cap(c) {
		s.chunks = append(s.chunks, pl.get())
		k++
	}
	s.chunks[k] = append(s.chunks[k], Point{t, lo, hi})
	s.n++
	if s.n < maxPoints {
		return 1
	}
	before := s.n
	all := s.points()
	all = Reduce(all, all[0].T, all[len(all)-1].T, maxPoints/4)
	s.free(pl)
	for _, p := range all {
		s.add(p.T, p.Lo, p.Hi, maxPoints, pl)
	}
	return 1 - (before - s.n)
}

// points returns the series' points in one new slice.
func (s *series) points() []Point {
	out := make([]Point, 0, s.n)
	for _, c := range s.chunks {
		out = append(out, c...)
	}
	return out
}

// free hands the series' chunks back to the pool and empties it.
func (s *series) free(pl *pool) {
	for _, c := range s.chunks {
		if cap(c) == chunkPoints {
			pl.free = append(pl.free, c[:0])
		}
	}
	s.chunks, s.n = s.chunks[:0], 0
}
