package flowtable

import (
	"net/netip"

	"github.com/netblame/netblame/decode"
)

// Others counts the conversations the flow table does not track: IP
// protocols other than TCP and UDP (ICMP, ICMPv6, GRE, ESP, ...) by
// their two addresses, and packets without IP (ARP, LLDP, ...) by their
// EtherType, so that a conversation table can show them with their own
// rows. It is light by design: packets and bytes each way and the first
// and last packet, no analysis. It is kept apart from the Table so that
// TCP and UDP keep their preallocated, allocation-free path; a new
// conversation costs a map entry, and past Max conversations further
// new ones are counted in Dropped only.
type Others struct {
	// Max bounds the conversations kept; 0 means 4096.
	Max int
	// Dropped counts packets of conversations past Max.
	Dropped uint64

	index map[otherKey]int
	convs []OtherConv
}

// OtherConv is one conversation Others counted.
type OtherConv struct {
	// Proto is the IP protocol; with IP false, EtherType names the
	// conversation instead.
	IP        bool
	Proto     decode.IPProto
	EtherType decode.EtherType
	// A is the source of the first packet seen, B its destination (zero
	// without IP). Direction 0 is A to B.
	A, B                  netip.Addr
	First, Last           int64 // packet times, ns since the epoch
	FirstFrame, LastFrame uint64
	Packets, Bytes        [2]uint64 // Bytes: IP bytes with IP (as FlowRecord's), frame bytes without
}

type otherKey struct {
	ip     bool
	proto  decode.IPProto
	ether  decode.EtherType
	lo, hi netip.Addr
}

// Tracks reports whether p is a packet Others counts: one decoded to the
// network layer whose protocol is neither TCP nor UDP (fragments of
// those belong to the flow table), or a link-layer packet without IP.
func (o *Others) Tracks(p *decode.Packet) bool {
	switch {
	case p.Layer >= decode.LayerNetwork:
		return p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP
	case p.Layer == decode.LayerLink:
		return p.EtherType != 0
	}
	return false
}

// Add counts p (frame number frame, time ts, wireLen bytes on the wire,
// counted for packets without IP)
// when Tracks(p); it does nothing otherwise.
func (o *Others) Add(p *decode.Packet, ts int64, frame uint64, wireLen int) {
	if !o.Tracks(p) {
		return
	}
	k := otherKey{ether: p.EtherType}
	src, dst := p.Src(), p.Dst()
	if p.Layer >= decode.LayerNetwork {
		k = otherKey{ip: true, proto: p.Proto, lo: src, hi: dst}
		if dst.Less(src) {
			k.lo, k.hi = dst, src
		}
	}
	if o.index == nil {
		o.index = map[otherKey]int{}
	}
	i, ok := o.index[k]
	if !ok {
		max := o.Max
		if max == 0 {
			max = 4096
		}
		if len(o.convs) >= max {
			o.Dropped++
			return
		}
		c := OtherConv{IP: k.ip, Proto: k.proto, EtherType: k.ether, First: ts, FirstFrame: frame}
		if k.ip {
			c.A, c.B = src, dst
		}
		i = len(o.convs)
		o.convs = append(o.convs, c)
		o.index[k] = i
	}
	c := &o.convs[i]
	dir := 0
	if k.ip && src != c.A {
		dir = 1
	}
	c.Packets[dir]++
	if k.ip {
		c.Bytes[dir] += uint64(p.IPLen)
	} else {
		c.Bytes[dir] += uint64(wireLen)
	}
	c.Last, c.LastFrame = ts, frame
}

// Conversations returns the conversations in the order of their first
// packet; the slice is Others' own, valid until the next Add.
func (o *Others) Conversations() []OtherConv { return o.convs }
