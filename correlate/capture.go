package correlate

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/netip"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// Capture is what correlation keeps of one capture file: a compact record
// per TCP packet and a small summary per TCP connection. Build one with
// ReadFile, or with NewCapture and Add for packets from another source.
type Capture struct {
	// Name labels the capture in messages (usually its file name).
	Name string
	// Packets counts every packet read, TCP or not; TCPPackets those kept.
	Packets, TCPPackets uint64
	// Truncated counts TCP packets cut short by the capture's snaplen.
	Truncated uint64
	// First and Last are the timestamps of the first and last packet.
	First, Last int64
	// Err is the error that ended reading early (a damaged file), if any:
	// everything before it was kept.
	Err error

	recs  recStore
	flows []flow
	index map[flowKey]int32 // latest instance of each address/port pair
	lastK flowKey           // one-entry cache in front of index
	lastF int32
	order []int32 // record indices grouped by flow, in frame order within a flow
	done  bool
}

// flowKey is a direction-independent TCP connection key: the two endpoints
// in a fixed order.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

// flow summarises one TCP connection (one instance of an address/port
// pair: a new SYN with a new ISN after the old one opens a new flow).
type flow struct {
	client, server netip.AddrPort
	first, last    int64
	isn            [2]uint32 // SYN seq (c2s) and SYN-ACK seq (s2c)
	hasSYN         [2]bool
	wscale         [2]int8 // window scale offered in the SYN, -1 when not
	data           [2]dataSig
	pkts           [2]uint32
	rstBy          int8 // direction that sent the first RST, -1 when none
	fin            [2]bool
	start, count   uint32    // this flow's records are order[start:start+count]
	partner        int32     // matched flow in the other capture, -1 when none
	matched        [2]uint32 // client-side flows: records matched, by direction
	weak           [2]bool   // client-side flows: matched without IP ID and timestamp
	nextSame       int32     // next instance with the same key, -1 when none
}

// dataSig identifies the first data segment of one direction of a flow,
// which flow matching uses when addresses and ports differ.
type dataSig struct {
	ok       bool
	seq, ack uint32
	plen     uint16
	hash     uint64 // of the first captured payload bytes
}

// payloadHashLen bounds how many payload bytes the flow signature hashes.
const payloadHashLen = 64

var payloadSeed = maphash.MakeSeed()

// NewCapture returns an empty capture named name.
func NewCapture(name string) *Capture {
	return &Capture{Name: name, index: make(map[flowKey]int32), lastF: -1}
}

// ReadFile reads a pcap or pcapng file (plain, gzip or zstd). A file that
// cannot be opened is an error; a file damaged part-way yields the capture
// of everything before the damage, with Err set and returned.
func ReadFile(path string) (*Capture, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := NewCapture(path)
	err = c.ReadFrom(r)
	return c, err
}

// packetReader is what ReadFrom needs of a capfile.Reader.
type packetReader interface {
	Next(p *capfile.Packet) error
}

// ReadFrom adds every packet r yields until io.EOF. On any other error it
// stops, keeps what it read, records the error in c.Err and returns it.
func (c *Capture) ReadFrom(r packetReader) error {
	var cp capfile.Packet
	var dp decode.Packet
	for {
		err := r.Next(&cp)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			c.Err = fmt.Errorf("%s: %w", c.Name, err)
			return c.Err
		}
		_ = dp.Decode(cp.Data, cp.Link) // a partial decode still counts if TCP was reached
		var payload []byte
		if dp.IsTCP() {
			payload = cp.Data[dp.PayloadOffset : dp.PayloadOffset+dp.CapPayloadLen]
		}
		c.Add(cp.Frame, cp.Timestamp, &dp, payload)
	}
}

// Add records one decoded packet. payload is the captured TCP payload (it
// is hashed for the first data segment of each direction, not kept). Only
// TCP packets are kept; Add returns whether p was one. Packets must come in
// frame order, and none may be added after the capture was correlated.
func (c *Capture) Add(frame uint64, ts int64, p *decode.Packet, payload []byte) bool {
	if c.Packets == 0 {
		c.First = ts
	}
	c.Packets++
	c.Last = ts
	if c.done || !p.IsTCP() || p.Has(decode.LaterFragment) {
		return false
	}
	c.TCPPackets++
	src := netip.AddrPortFrom(p.Src.Unmap(), p.SrcPort)
	syn := p.TCPFlags&decode.TCPSyn != 0
	ack := p.TCPFlags&decode.TCPAck != 0

	var k flowKey
	sa, da := p.Src.As16(), p.Dst.As16()
	srcFirst := lessEndpoint(sa, p.SrcPort, da, p.DstPort)
	if srcFirst {
		k = flowKey{a: sa, b: da, pa: p.SrcPort, pb: p.DstPort}
	} else {
		k = flowKey{a: da, b: sa, pa: p.DstPort, pb: p.SrcPort}
	}
	fi := int32(-1)
	if c.lastF >= 0 && k == c.lastK {
		fi = c.lastF
	} else if i, ok := c.index[k]; ok {
		fi = i
	}
	if fi >= 0 && syn && !ack {
		// A SYN with a new ISN from either side starts a new connection
		// on the same addresses and ports; a repeated SYN does not.
		f := &c.flows[fi]
		if f.client == src && f.hasSYN[c2s] && f.isn[c2s] != p.Seq ||
			f.client != src || f.rstBy >= 0 || f.fin[c2s] && f.fin[s2c] {
			prev := fi
			fi = c.newFlow(k, p, src)
			c.flows[prev].nextSame = fi
		}
	}
	if fi < 0 {
		fi = c.newFlow(k, p, src)
	}
	c.lastK, c.lastF = k, fi
	f := &c.flows[fi]

	dir := c2s
	if src != f.client {
		dir = s2c
	}
	r := c.recs.add()
	r.ts = ts
	r.frame = uint32(frame)
	r.flow = uint32(fi)
	r.seq, r.ack = p.Seq, p.Ack
	r.plen = uint16(min(p.PayloadLen, 0xffff))
	if p.IPVersion == 4 {
		r.ipid = uint16(p.IPID)
	}
	r.win = p.Window
	r.csum = p.Checksum
	r.flags = uint8(p.TCPFlags)
	r.bits = uint8(dir)
	if p.Has(decode.HasTimestamps) {
		r.tsval = p.TSVal
		r.bits |= recTS
	}
	if p.Has(decode.Truncated) {
		r.bits |= recTrunc
		c.Truncated++
	}

	f.last = ts
	f.pkts[dir]++
	if syn {
		if !f.hasSYN[dir] || (dir == c2s && !ack) {
			f.isn[dir] = p.Seq
			f.hasSYN[dir] = true
		}
		if p.Has(decode.HasWScale) {
			f.wscale[dir] = int8(min(p.WScale, 14))
		}
	}
	if p.TCPFlags&decode.TCPRst != 0 && f.rstBy < 0 {
		f.rstBy = int8(dir)
	}
	if p.TCPFlags&decode.TCPFin != 0 {
		f.fin[dir] = true
	}
	if p.PayloadLen > 0 && !f.data[dir].ok {
		d := &f.data[dir]
		d.ok, d.seq, d.ack, d.plen = true, p.Seq, p.Ack, r.plen
		d.hash = maphash.Bytes(payloadSeed, payload[:min(len(payload), payloadHashLen)])
	}
	return true
}

// newFlow starts a flow for key k whose first packet is p, sent by src.
func (c *Capture) newFlow(k flowKey, p *decode.Packet, src netip.AddrPort) int32 {
	dst := netip.AddrPortFrom(p.Dst.Unmap(), p.DstPort)
	syn := p.TCPFlags&decode.TCPSyn != 0
	ack := p.TCPFlags&decode.TCPAck != 0
	var srcIsClient bool
	switch {
	case syn && !ack:
		srcIsClient = true
	case syn && ack:
		srcIsClient = false
	default:
		// Mid-stream: the higher (ephemeral) port is the client's, which
		// both captures of a flow agree on without seeing its start.
		srcIsClient = p.SrcPort >= p.DstPort
	}
	f := flow{first: c.Last, rstBy: -1, wscale: [2]int8{-1, -1}, partner: -1, nextSame: -1}
	if srcIsClient {
		f.client, f.server = src, dst
	} else {
		f.client, f.server = dst, src
	}
	c.flows = append(c.flows, f)
	i := int32(len(c.flows) - 1)
	c.index[k] = i
	return i
}

// lessEndpoint orders two endpoints for the direction-independent key.
func lessEndpoint(a [16]byte, pa uint16, b [16]byte, pb uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return pa < pb
}

// finish groups the records by flow (a counting sort, linear in packets).
func (c *Capture) finish() {
	if c.done {
		return
	}
	c.done = true
	var pos uint32
	for i := range c.flows {
		c.flows[i].start = pos
		pos += c.flows[i].pkts[0] + c.flows[i].pkts[1]
	}
	c.order = make([]int32, c.recs.len())
	fill := make([]uint32, len(c.flows))
	for i := range fill {
		fill[i] = c.flows[i].start
	}
	n := int32(c.recs.len())
	for i := int32(0); i < n; i++ {
		f := c.recs.at(i).flow
		c.order[fill[f]] = i
		fill[f]++
	}
	for i := range c.flows {
		c.flows[i].count = fill[i] - c.flows[i].start
	}
}

// flowRecs returns the indices of flow fi's records, in frame order.
func (c *Capture) flowRecs(fi int32) []int32 {
	f := &c.flows[fi]
	return c.order[f.start : f.start+f.count]
}

var errNoTCP = errors.New("no TCP packets")
