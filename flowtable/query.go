package flowtable

import (
	"net/netip"
	"slices"
	"sort"
)

// InProgress answers "how many flows of this client were in progress at
// that instant?" over a set of finished flow records, for instance the
// other connections of a client when one of its connections was reset.
// A flow is in progress at t when its first packet came at or before t and
// its last at or after t. Build it once; each query is two binary searches.
type InProgress struct {
	byClient map[netip.Addr]*spans
}

// spans holds the first and last packet times of one client's flows,
// each sorted on its own: the flows in progress at t are those started by t
// minus those that ended before t (a flow that ended before t started
// before t too).
type spans struct {
	first, last []int64
}

// NewInProgress indexes recs by client address (the address only, so all
// source ports of a host count as one client). Callers choose the records:
// for example only TCP flows.
func NewInProgress(recs []FlowRecord) *InProgress {
	x := &InProgress{byClient: make(map[netip.Addr]*spans)}
	for i := range recs {
		a := recs[i].Client.Addr()
		s := x.byClient[a]
		if s == nil {
			s = &spans{}
			x.byClient[a] = s
		}
		s.first = append(s.first, recs[i].First)
		s.last = append(s.last, recs[i].Last)
	}
	for _, s := range x.byClient {
		slices.Sort(s.first)
		slices.Sort(s.last)
	}
	return x
}

// At returns how many indexed flows of client were in progress at t (ns
// since the epoch). A flow whose own packet is at t counts itself.
func (x *InProgress) At(client netip.Addr, t int64) int {
	s := x.byClient[client]
	if s == nil {
		return 0
	}
	started := sort.Search(len(s.first), func(i int) bool { return s.first[i] > t })
	ended := sort.Search(len(s.last), func(i int) bool { return s.last[i] >= t })
	return started - ended
}
