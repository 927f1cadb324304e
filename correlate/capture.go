package correlate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/dedup"
	"github.com/netblame/netblame/flowrule"
	"github.com/netblame/netblame/track"
)

// Capture is what correlation keeps of one capture file: a compact record
// per TCP packet and a small summary per TCP connection. Build one with
// ReadFile, or with NewCapture and Add for packets from another source.
type Capture struct {
	// Name labels the capture in messages (usually its file name).
	Name string
	// Files lists the files read as this capture when there were several
	// (rotated files, merged in time order; see ReadFiles).
	Files []string
	// Packets counts every packet read, TCP or not; TCPPackets those kept.
	Packets, TCPPackets uint64
	// Truncated counts TCP packets cut short by the capture's snaplen.
	Truncated uint64
	// Duplicates counts capture duplicates left out: copies of a packet
	// identical to one seen DupWindow before or less (a SPAN session that
	// mirrors both ingress and egress records every packet twice).
	Duplicates uint64
	// SuperSegments counts TCP packets longer than their connection's
	// wire segment size (TSO/GSO on send, GRO/LRO on receive at the
	// capturing host); each is kept as the wire segments it stands for.
	SuperSegments uint64
	// DupWindow is how close in time two identical packets must be to
	// count as one packet recorded twice; 0 keeps every copy.
	DupWindow int64
	// First and Last are the earliest and latest packet timestamps.
	First, Last int64
	// Err is the error that ended reading early (a damaged file), if any:
	// everything before it was kept.
	Err error

	recs  recStore
	flows flowStore
	// index finds the latest flow of each address/port pair: an
	// open-addressing table of flow index+1, at most half full.
	index   []int32
	indexed int
	lastF   int32           // flow of the previous packet, -1 at first
	dups    *dedup.Detector // made at the first packet, with DupWindow
	order   []int32         // record indices grouped by flow, in frame order within a flow
	done    bool
}

// flow summarises one TCP connection (one instance of an address/port
// pair: a new SYN with a new ISN after the old one opens a new flow).
type flow struct {
	client, server netip.AddrPort
	first, last    int64
	isn            [2]uint32 // SYN seq (c2s) and SYN-ACK seq (s2c)
	hasSYN         [2]bool
	// base is each direction's sequence base (flowrule.Base, AckBase),
	// by which a SYN with a new ISN is told from a repeated one.
	base    [2]uint32
	baseSet [2]bool
	wscale  [2]int8 // window scale offered in the SYN, -1 when not
	data    [2]dataSig
	pkts    [2]uint32
	// seg is each direction's wire segment size: the MSS its receiver
	// announced less the timestamp option, 0 until known.
	seg          [2]uint16
	dups         uint32 // capture duplicates left out
	rstBy        int8   // direction that sent the first RST, -1 when none
	fin          [2]bool
	start, count uint32    // this flow's records are order[start:start+count]
	partner      int32     // matched flow in the other capture, -1 when none
	matched      [2]uint32 // client-side flows: records matched, by direction
	weak         [2]bool   // client-side flows: matched without IP ID and timestamp
	unanswered   bool      // client-side flows: SYNs lost between the points
	nextSame     int32     // next instance with the same addresses and ports, -1 when none
	firstSame    int32     // first instance with the same addresses and ports
}

// dataSig identifies one direction of a flow by its first segment with
// payload, or while it has sent none, its first packet; flow matching uses
// it when addresses and ports differ.
type dataSig struct {
	ok       bool
	plen     uint16
	seq, ack uint32
	hash     uint32 // of the first captured payload bytes
}

// payloadHashLen bounds how many payload bytes the flow signature hashes.
const payloadHashLen = 64

var payloadSeed = maphash.MakeSeed()

// NewCapture returns an empty capture named name.
func NewCapture(name string) *Capture {
	return &Capture{Name: name, lastF: -1, DupWindow: int64(dedup.DefaultWindow)}
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

// ReadFiles reads one capture from several files (or directories of
// them), merged in time order as mergecap merges them: the frame numbers
// in a report are those of the merged file. Like ReadFile, it returns what
// it read before any damage, with the error.
func ReadFiles(paths ...string) (*Capture, error) {
	if len(paths) == 1 {
		if st, err := os.Stat(paths[0]); err == nil && !st.IsDir() {
			return ReadFile(paths[0])
		}
	}
	m, err := capfile.OpenMerged(paths...)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	c := NewCapture(strings.Join(m.Files(), "+"))
	if len(m.Files()) > 1 {
		c.Files = m.Files()
	}
	err = c.ReadFrom(m)
	return c, err
}

// Read reads a capture file's contents from r (any format ReadFile
// takes), naming the capture name. Like ReadFile, it returns what it read
// before any damage, with the error.
func Read(name string, r io.Reader) (*Capture, error) {
	cr, err := capfile.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer cr.Close()
	c := NewCapture(name)
	err = c.ReadFrom(cr)
	return c, err
}

// ReadFrom adds every packet r yields until io.EOF, after IP
// reassembly (fragments count as the datagram they complete). On any
// other error it stops, keeps what it read, records the error in c.Err
// and returns it.
func (c *Capture) ReadFrom(r capfile.Source) error {
	t, err := track.New(track.Options{}) // correlate keeps its own flows
	if err != nil {
		return err
	}
	err = t.Run(r, func(p *track.Packet) error {
		c.Add(p.Capture.Frame, p.Capture.Timestamp, p.Decoded, p.Payload())
		return nil
	})
	if err != nil {
		c.Err = fmt.Errorf("%s: %w", c.Name, err)
		return c.Err
	}
	return nil
}

// Add records one decoded packet. payload is the captured TCP payload (it
// is hashed for the first data segment of each direction, not kept). Only
// TCP packets are kept, and not the fragments of a datagram (ReadFrom puts
// those together first); Add returns whether p was kept. Packets must come in
// frame order, and none may be added after the capture was correlated.
func (c *Capture) Add(frame uint64, ts int64, p *decode.Packet, payload []byte) bool {
	if c.Packets == 0 || ts < c.First {
		c.First = ts
	}
	if c.Packets == 0 || ts > c.Last {
		c.Last = ts
	}
	c.Packets++
	if c.done || !p.IsTCP() || p.Has(decode.Fragment) { // a datagram's piece (see defrag)
		return false
	}
	c.TCPPackets++
	src := netip.AddrPortFrom(p.Src().Unmap(), p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst().Unmap(), p.DstPort)
	syn := p.TCPFlags&decode.TCPSyn != 0
	ack := p.TCPFlags&decode.TCPAck != 0

	// Packets of one connection often come in runs: try the last one's
	// flow before the index (not for a SYN, which may start a new one).
	slot, fi := -1, int32(-1)
	if c.lastF >= 0 && !(syn && !ack) {
		if f := c.flows.at(c.lastF); f.client == src && f.server == dst || f.client == dst && f.server == src {
			fi = c.lastF
		}
	}
	if fi < 0 {
		slot, fi = c.lookup(src, dst)
	}
	if fi >= 0 && syn && !ack {
		// A SYN with a new ISN starts a new connection on the same
		// addresses and ports; a repeated SYN does not. The flow table
		// follows the same rule, so both split a tuple alike.
		f := c.flows.at(fi)
		d := c2s
		if f.client != src {
			d = s2c
		}
		if flowrule.Reuses(p, f.base[d], f.baseSet[d]) {
			prev := fi
			fi = c.newFlow(p, ts, src, dst, prev)
			c.flows.at(prev).nextSame = fi
			c.index[slot] = fi + 1
		}
	}
	if fi < 0 {
		fi = c.newFlow(p, ts, src, dst, -1)
		c.insert(slot, fi)
	}
	c.lastF = fi
	f := c.flows.at(fi)
	if c.dups == nil {
		c.dups = dedup.New(time.Duration(c.DupWindow))
	}
	if c.dups.Duplicate(ts, p) {
		c.Duplicates++
		f.dups++
		return true
	}

	dir := c2s
	if src != f.client {
		dir = s2c
	}
	if p.Has(decode.Truncated) {
		c.Truncated++
	}
	f.last = ts
	if syn && ack && f.baseSet[dir] && p.Seq != f.base[dir] {
		f.base[dir] = p.Seq // a SYN-ACK with a new ISN re-bases, as in the flow table
	}
	if !f.baseSet[dir] {
		f.base[dir], f.baseSet[dir] = flowrule.Base(p), true
	}
	if b, ok := flowrule.AckBase(p); ok && !f.baseSet[1-dir] {
		f.base[1-dir], f.baseSet[1-dir] = b, true
	}
	if syn && p.Has(decode.HasMSS) {
		// The MSS a SYN announces bounds the other direction's segments.
		seg := int(p.MSS)
		if p.Has(decode.HasTimestamps) {
			seg -= tsOptionLen
		}
		f.seg[1-dir] = uint16(max(seg, 1))
	}
	plen := min(p.PayloadLen, 0xffff)
	seg, over := int(f.seg[dir]), int(f.seg[dir])
	if seg == 0 {
		// Without the handshake's MSS, only what no 1500-byte Ethernet
		// frame can carry counts as coalesced.
		seg, over = wireSegment(p), maxWirePayload
	}
	if plen <= over || syn {
		c.addRec(frame, ts, fi, dir, p, p.Seq, plen, uint8(p.TCPFlags), 0)
	} else {
		// A super-segment stands for the wire segments the sender's
		// stack (TSO/GSO) cut it into, or that GRO merged: consecutive
		// seq ranges of seg bytes with consecutive IPv4 IDs, one
		// timestamp and ack, PSH and FIN on the last only.
		c.SuperSegments++
		for off, j := 0, uint32(0); off < plen; off, j = off+seg, j+1 {
			n := min(seg, plen-off)
			flags := uint8(p.TCPFlags)
			if off+n < plen {
				flags &^= flagPSH | flagFIN
			}
			if off > 0 {
				flags &^= 0x80 // CWR belongs to the first
			}
			c.addRec(frame, ts, fi, dir, p, p.Seq+uint32(off), n, flags, j)
		}
	}
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
	// The direction's first packet identifies it until its first
	// payload does.
	if d := &f.data[dir]; !d.ok || d.plen == 0 && p.PayloadLen > 0 {
		d.ok, d.seq, d.ack, d.plen = true, p.Seq, p.Ack, uint16(min(plen, seg))
		if p.PayloadLen > 0 {
			d.hash = uint32(maphash.Bytes(payloadSeed, payload[:min(len(payload), payloadHashLen)]))
		}
	}
	return true
}

// tsOptionLen is what the TCP timestamp option (with its padding) takes
// out of every segment's MSS.
const tsOptionLen = 12

// maxWirePayload is the most TCP payload a 1500-byte IP packet carries.
const maxWirePayload = 1500 - 20 - 20

// wireSegment is the largest payload a segment of p's connection can
// carry on a 1500-byte Ethernet MTU, for connections whose handshake the
// capture missed: anything longer was coalesced by the capturing host.
func wireSegment(p *decode.Packet) int {
	n := 1500 - 20 - 20
	if p.IPVersion == 6 {
		n = 1500 - 40 - 20
	}
	if p.Has(decode.HasTimestamps) {
		n -= tsOptionLen
	}
	return n
}

// packetIdent folds a packet's IP ID and TCP timestamp into 16 bits that
// tell a retransmission from its original, whose IP ID and TSval are a
// small step away. The high bits of a multiplication by an odd constant
// depend on every bit of both, so such nearby pairs collide about as
// rarely as random ones; an XOR of the two let small steps cancel out.
func packetIdent(ipid, tsval uint32) uint16 {
	return uint16((uint64(ipid)<<32 | uint64(tsval)) * 0x9e3779b97f4a7c15 >> 48)
}

// addRec stores one record of flow fi: the packet p, or the j-th wire
// segment of it, [seq, seq+plen), with flags.
func (c *Capture) addRec(frame uint64, ts int64, fi int32, dir int, p *decode.Packet, seq uint32, plen int, flags uint8, j uint32) {
	r := c.recs.add()
	r.ts = ts
	r.frame = uint32(frame)
	r.flow = uint32(fi)
	r.seq, r.ack = seq, p.Ack
	r.plen = uint16(plen)
	var ipid, tsval uint32
	if p.IPVersion == 4 {
		ipid = uint32(uint16(p.IPID + j))
	}
	r.win = p.Window
	r.flags = flags
	r.bits = uint8(dir)
	if p.Has(decode.HasTimestamps) {
		tsval = p.TSVal
		r.bits |= recTS
	}
	r.ident = packetIdent(ipid, tsval)
	if p.Has(decode.Truncated) {
		r.bits |= recTrunc
	}
	c.flows.at(fi).pkts[dir]++
}

// hashConn hashes a connection's endpoints independently of direction.
func hashConn(x, y netip.AddrPort) uint64 {
	hx, hy := hashEnd(x), hashEnd(y)
	if hx > hy {
		hx, hy = hy, hx
	}
	h := hx*0x9e3779b97f4a7c15 ^ hy
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

func hashEnd(e netip.AddrPort) uint64 {
	a := e.Addr()
	var lo, hi uint64
	if a.Is4() {
		b := a.As4()
		lo = uint64(binary.BigEndian.Uint32(b[:]))
	} else {
		b := a.As16()
		hi, lo = binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	}
	h := (lo ^ hi*0xff51afd7ed558ccd ^ uint64(e.Port())<<40) * 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// lookup finds the latest flow between x and y. It returns the index
// table slot that holds it, or the empty slot where it belongs, and the
// flow index (-1 when none).
func (c *Capture) lookup(x, y netip.AddrPort) (slot int, fi int32) {
	if len(c.index) == 0 {
		c.index = make([]int32, 1024)
	}
	mask := len(c.index) - 1
	for s := int(hashConn(x, y)) & mask; ; s = (s + 1) & mask {
		v := c.index[s]
		if v == 0 {
			return s, -1
		}
		f := c.flows.at(v - 1)
		if f.client == x && f.server == y || f.client == y && f.server == x {
			return s, v - 1
		}
	}
}

// insert puts flow fi into empty slot s of the index, growing it to keep
// it at most half full.
func (c *Capture) insert(s int, fi int32) {
	c.index[s] = fi + 1
	c.indexed++
	if 2*c.indexed <= len(c.index) {
		return
	}
	old := c.index
	c.index = make([]int32, 2*len(old))
	mask := len(c.index) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		f := c.flows.at(v - 1)
		s := int(hashConn(f.client, f.server)) & mask
		for c.index[s] != 0 {
			s = (s + 1) & mask
		}
		c.index[s] = v
	}
}

// newFlow starts a flow whose first packet is p, from src to dst. prev is
// the earlier connection on the same addresses and ports, or -1.
func (c *Capture) newFlow(p *decode.Packet, ts int64, src, dst netip.AddrPort, prev int32) int32 {
	srcIsClient := flowrule.SourceIsClient(p) // as the flow table names it
	f := flow{first: ts, rstBy: -1, wscale: [2]int8{-1, -1}, partner: -1, nextSame: -1}
	if srcIsClient {
		f.client, f.server = src, dst
	} else {
		f.client, f.server = dst, src
	}
	i := int32(c.flows.len())
	f.firstSame = i
	if prev >= 0 {
		f.firstSame = c.flows.at(prev).firstSame
	}
	return c.flows.add(f)
}

// finish groups the records by flow (a counting sort, linear in packets).
func (c *Capture) finish() {
	if c.done {
		return
	}
	c.done = true
	var pos uint32
	for i := range c.flows.len() {
		c.flows.at(int32(i)).start = pos
		pos += c.flows.at(int32(i)).pkts[0] + c.flows.at(int32(i)).pkts[1]
	}
	c.order = make([]int32, c.recs.len())
	fill := make([]uint32, c.flows.len())
	for i := range fill {
		fill[i] = c.flows.at(int32(i)).start
	}
	n := int32(c.recs.len())
	for i := int32(0); i < n; i++ {
		f := c.recs.at(i).flow
		c.order[fill[f]] = i
		fill[f]++
	}
	for i := range c.flows.len() {
		c.flows.at(int32(i)).count = fill[i] - c.flows.at(int32(i)).start
	}
}

// flowRecs returns the indices of flow fi's records, in frame order.
func (c *Capture) flowRecs(fi int32) []int32 {
	f := c.flows.at(int32(fi))
	return c.order[f.start : f.start+f.count]
}

var errNoTCP = errors.New("no TCP packets")
