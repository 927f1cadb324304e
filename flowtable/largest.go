package flowtable

import (
	"slices"
	"sync"
)

// Largest keeps the n largest of the flows it is given, by bytes in both
// directions: hooked to Config.OnExpire, the biggest flows that ended.
// It copies the records it keeps, allocates only in NewLargest, and is
// safe for concurrent use (several tables, or shards, may report to one).
type Largest struct {
	mu  sync.Mutex
	top []FlowRecord // largest first; len <= cap
}

// NewLargest returns a Largest keeping n flows (at least 1).
func NewLargest(n int) *Largest { return &Largest{top: make([]FlowRecord, 0, max(n, 1))} }

func flowBytes(r *FlowRecord) uint64 { return r.Bytes[0] + r.Bytes[1] }

// Add offers r; it is kept when it is among the n largest so far (a tie
// with the smallest kept does not displace it: the earlier flow stays).
func (l *Largest) Add(r *FlowRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := flowBytes(r)
	i := len(l.top)
	if i == cap(l.top) {
		if size <= flowBytes(&l.top[i-1]) {
			return
		}
		i-- // the smallest drops out
	} else {
		l.top = l.top[:i+1]
	}
	for i > 0 && flowBytes(&l.top[i-1]) < size {
		l.top[i] = l.top[i-1]
		i--
	}
	l.top[i] = *r
}

// Flows returns a copy of the flows kept, largest first.
func (l *Largest) Flows() []FlowRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.top)
}
