package dfilter

import "github.com/netblame/netblame/decode"

// Conversations numbers TCP and UDP flows as tshark's tcp.stream and
// udp.stream do (each protocol counted on its own, from 0, in the order
// its flows began) and keeps each flow's first and latest packet times for
// tcp.time_relative and tcp.time_delta. The flow table numbers flows of
// both protocols in one sequence, so its index alone is not tcp.stream
// when a capture holds UDP too.
//
// See must see every tracked packet, in order, before a filter or the
// columns look at it (tcp.time_delta is from the previous packet of the
// flow, shown or not). It keeps 24 bytes for every flow the table
// numbered; appending grows the store now and then, amortised.
type Conversations struct {
	flows    []conversation // by the flow table's index
	tcp, udp uint64         // streams numbered so far
}

type conversation struct {
	stream      uint64 // 1 + the stream number; 0 until seen
	first, last int64
}

// See updates the conversation of p (from its Result) and records in p its
// stream number and times.
func (c *Conversations) See(p *Packet) {
	p.conv = false
	r := p.Result
	if r == nil || !r.Tracked || p.Decoded == nil {
		return
	}
	i := r.Index
	if i >= uint64(len(c.flows)) {
		if i >= uint64(cap(c.flows)) {
			grown := make([]conversation, i+1, max(2*cap(c.flows), int(i+1), 64))
			copy(grown, c.flows)
			c.flows = grown
		}
		c.flows = c.flows[:i+1]
	}
	cv := &c.flows[i]
	if cv.stream == 0 {
		if p.Decoded.Proto == decode.ProtoTCP {
			c.tcp++
			cv.stream = c.tcp
		} else {
			c.udp++
			cv.stream = c.udp
		}
		cv.first, cv.last = p.TS, p.TS
	}
	p.conv = true
	p.stream = cv.stream - 1
	p.flowFirst, p.flowPrev = cv.first, cv.last
	cv.last = p.TS
}
