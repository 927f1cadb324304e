package flowtable

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// SlowHandshakes returns the flows of recs whose SYN-ACK came more than d
// after their first SYN, in the order of those SYNs: the question "which
// connection waited for the server first?".
func SlowHandshakes(recs []FlowRecord, d time.Duration) []FlowRecord {
	var out []FlowRecord
	for i := range recs {
		if r := &recs[i]; r.SynTime != 0 && r.SynAckTime != 0 && r.SynToSynAck > d {
			out = append(out, *r)
		}
	}
	slices.SortStableFunc(out, func(a, b FlowRecord) int {
		return cmp.Or(cmp.Compare(a.SynTime, b.SynTime), cmp.Compare(a.Index, b.Index))
	})
	return out
}

// ResetFlow is a flow that was reset, with how many other TCP connections
// of its client were in progress at its first RST.
type ResetFlow struct {
	FlowRecord
	OtherInProgress int
}

// ResetsBy returns the TCP flows of recs whose first RST came from side
// (SideClient or SideServer), in the order of those RSTs, each with the
// client's other TCP connections in progress then (among recs): "when the
// server reset this one, what else was the client doing?".
func ResetsBy(recs []FlowRecord, side Side) []ResetFlow {
	var tcp []FlowRecord
	for i := range recs {
		if recs[i].Proto == 6 {
			tcp = append(tcp, recs[i])
		}
	}
	idx := NewInProgress(tcp)
	var out []ResetFlow
	for i := range tcp {
		r := &tcp[i]
		if r.FirstResetBy != side {
			continue
		}
		// The reset flow itself is in progress at its own RST.
		out = append(out, ResetFlow{FlowRecord: *r, OtherInProgress: idx.At(r.Client.Addr(), r.FirstResetTS) - 1})
	}
	slices.SortStableFunc(out, func(a, b ResetFlow) int { return cmp.Compare(a.FirstResetFrame, b.FirstResetFrame) })
	return out
}

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
