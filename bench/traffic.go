package bench

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/netblame/netblame/internal/ipsum"
)

// TrafficConfig shapes a synthetic capture.
type TrafficConfig struct {
	Seed        uint64
	Concurrent  int     // connections open at once
	Responses   int     // mean server segments per connection
	LossPercent float64 // chance that a server segment is lost before the capture point
	IPv6Percent float64 // share of connections over IPv6
	VLANPercent float64 // share of connections with an 802.1Q tag
	Snaplen     int     // 0 = full frames
	// MidTraffic: WriteTraffic stops at its packet count, with the
	// connections still open, as a capture taken in the middle of the
	// traffic; otherwise it goes on until every connection has closed.
	MidTraffic bool
}

// DefaultTraffic is the mix the benchmarks use: many concurrent downloads
// with a little loss, some IPv6 and some VLAN, cut at snaplen 128.
var DefaultTraffic = TrafficConfig{
	Seed:        1,
	Concurrent:  1024,
	Responses:   24,
	LossPercent: 1,
	IPv6Percent: 20,
	VLANPercent: 10,
	Snaplen:     128,
}

// ManyFlowsTraffic is DefaultTraffic with 100,000 connections open at once,
// as a SPAN port of a busy link sees: the flow table's state no longer
// fits the caches.
var ManyFlowsTraffic = func() TrafficConfig {
	c := DefaultTraffic
	c.Concurrent = 100_000
	c.MidTraffic = true // closing 100,000 connections would take 4M packets more
	return c
}()

// Traffic generates a deterministic stream of Ethernet frames carrying many
// interleaved TCP connections as Linux would send them: a handshake with
// MSS, SACK-permitted, timestamps and window scale; a request; a response
// of full-sized segments acknowledged every second segment; a loss repaired
// by three duplicate ACKs with SACK and a fast retransmission; and a FIN
// close. It is the benchmarks' stand-in for a large real capture, so every
// packet decodes and every connection exercises the TCP analysis.
type Traffic struct {
	cfg   TrafficConfig
	rng   *rand.Rand
	flows []genFlow
	now   int64
	next  uint32 // connection counter, makes ports and addresses unique
	// draining: finished connections are not replaced; open counts those left.
	draining bool
	open     int
}

// NewTraffic returns a generator; it allocates once, here.
func NewTraffic(cfg TrafficConfig) *Traffic {
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 1
	}
	if cfg.Responses <= 0 {
		cfg.Responses = 1
	}
	t := &Traffic{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		flows: make([]genFlow, cfg.Concurrent),
		now:   1_700_000_000 * 1e9,
	}
	for i := range t.flows {
		t.start(&t.flows[i])
	}
	t.open = len(t.flows)
	return t
}

// Drain stops the generator from opening new connections: Next finishes
// the open ones and then returns a nil frame. A capture that ends after a
// drain holds only complete connections.
func (t *Traffic) Drain() { t.draining = true }

// Next writes the next frame into buf (which must hold MaxFrame bytes) and
// returns its timestamp in nanoseconds, the captured bytes and the length on
// the wire. It never allocates. After Drain, once every connection has
// closed, it returns a nil frame.
func (t *Traffic) Next(buf []byte) (ts int64, frame []byte, origLen int) {
	if t.open == 0 {
		return t.now, nil, 0
	}
	f := &t.flows[t.rng.IntN(len(t.flows))]
	for f.phase == phaseDone { // only while draining
		f = &t.flows[t.rng.IntN(len(t.flows))]
	}
	t.now += int64(200 + t.rng.IntN(2000))
	seg := f.step(t.rng)
	n := f.write(buf, &seg)
	if f.phase == phaseDone {
		if t.draining {
			t.open--
		} else {
			t.start(f)
		}
	}
	capLen := n
	if t.cfg.Snaplen > 0 && capLen > t.cfg.Snaplen {
		capLen = t.cfg.Snaplen
	}
	return t.now, buf[:capLen], n
}

// MaxFrame is the largest frame Next writes.
const MaxFrame = 14 + 4 + 40 + 40 + mss

const mss = 1448

const (
	phaseSYN = iota
	phaseSYNACK
	phaseACK
	phaseRequest
	phaseData
	phaseServerFIN
	phaseClientFIN
	phaseLastACK
	phaseDone
)

type genFlow struct {
	v6         bool
	vlan       uint16
	cli, srv   [16]byte
	cport      uint16
	sport      uint16
	cisn, sisn uint32
	tsc, tss   uint32 // TCP timestamp clocks of client and server
	phase      int
	reqLen     int
	segs       int // server segments in the response
	sent       int // next new segment index
	unacked    int // segments received by the client since its last ACK
	lost       int // index of the lost segment, -1 for none
	dupACKs    int
	repaired   bool
	// ipid numbers each sender's IPv4 packets, as Linux does per
	// connection: a retransmission gets a new ID.
	ipid [2]uint16
}

// segment is one TCP packet to write.
type segment struct {
	fromClient bool
	flags      uint8
	seq, ack   uint32
	payload    int
	syn        bool // write handshake options
	sackLeft   uint32
	sackRight  uint32
}

func (t *Traffic) start(f *genFlow) {
	t.next++
	id := t.next
	*f = genFlow{
		v6:     t.rng.Float64()*100 < t.cfg.IPv6Percent,
		cport:  uint16(32768 + id%28000),
		sport:  [4]uint16{80, 443, 8080, 5432}[id%4],
		cisn:   t.rng.Uint32(),
		sisn:   t.rng.Uint32(),
		tsc:    t.rng.Uint32(),
		tss:    t.rng.Uint32(),
		reqLen: 100 + t.rng.IntN(400),
		segs:   1 + t.rng.IntN(2*t.cfg.Responses),
		lost:   -1,
	}
	if t.rng.Float64()*100 < t.cfg.VLANPercent {
		f.vlan = uint16(100 + id%16)
	}
	if t.rng.Float64()*100 < t.cfg.LossPercent*float64(f.segs) && f.segs > 4 {
		f.lost = 1 + t.rng.IntN(f.segs-4)
	}
	// Clients in 10.0.0.0/8 or fd00::/64, servers in a handful of hosts.
	if f.v6 {
		f.cli[0], f.srv[0] = 0xfd, 0xfd
		binary.BigEndian.PutUint32(f.cli[12:], id)
		f.srv[15] = byte(1 + id%8)
	} else {
		binary.BigEndian.PutUint32(f.cli[:4], 10<<24|id&0xffffff)
		binary.BigEndian.PutUint32(f.srv[:4], 192<<24|168<<16|1+id%8)
	}
}

const (
	flFIN = 0x01
	flSYN = 0x02
	flPSH = 0x08
	flACK = 0x10
)

// step advances the connection by one packet and describes it.
func (f *genFlow) step(rng *rand.Rand) segment {
	f.tsc += 1 + uint32(rng.IntN(3))
	f.tss += 1 + uint32(rng.IntN(3))
	cseq := f.cisn + 1 + uint32(f.reqLen)
	sdata := func(i int) uint32 { return f.sisn + 1 + uint32(i*mss) }
	switch f.phase {
	case phaseSYN:
		f.phase = phaseSYNACK
		return segment{fromClient: true, flags: flSYN, seq: f.cisn, syn: true}
	case phaseSYNACK:
		f.phase = phaseACK
		return segment{flags: flSYN | flACK, seq: f.sisn, ack: f.cisn + 1, syn: true}
	case phaseACK:
		f.phase = phaseRequest
		return segment{fromClient: true, flags: flACK, seq: f.cisn + 1, ack: f.sisn + 1}
	case phaseRequest:
		f.phase = phaseData
		return segment{fromClient: true, flags: flPSH | flACK, seq: f.cisn + 1, ack: f.sisn + 1, payload: f.reqLen}
	case phaseData:
		return f.dataStep(cseq, sdata)
	case phaseServerFIN:
		f.phase = phaseClientFIN
		return segment{flags: flFIN | flACK, seq: sdata(f.segs), ack: cseq}
	case phaseClientFIN:
		f.phase = phaseLastACK
		return segment{fromClient: true, flags: flFIN | flACK, seq: cseq, ack: sdata(f.segs) + 1}
	default:
		f.phase = phaseDone
		return segment{flags: flACK, seq: sdata(f.segs) + 1, ack: cseq + 1}
	}
}

// dataStep sends the response: segments from the server, an ACK from the
// client every second segment, and the loss repair.
func (f *genFlow) dataStep(cseq uint32, sdata func(int) uint32) segment {
	holeOpen := f.lost >= 0 && !f.repaired && f.sent > f.lost
	switch {
	case holeOpen && f.dupACKs >= 3:
		// Fast retransmission of the hole; the client then acks all it has.
		f.repaired = true
		f.unacked = 2
		return segment{flags: flACK, seq: sdata(f.lost), ack: cseq, payload: mss}
	case f.unacked >= 2 || (f.sent == f.segs && f.unacked > 0) || (holeOpen && (f.unacked > 0 || f.sent == f.segs)):
		f.unacked = 0
		if holeOpen {
			// Duplicate ACK at the hole, SACKing what arrived after it.
			f.dupACKs++
			return segment{fromClient: true, flags: flACK, seq: cseq, ack: sdata(f.lost),
				sackLeft: sdata(f.lost + 1), sackRight: sdata(f.sent)}
		}
		return segment{fromClient: true, flags: flACK, seq: cseq, ack: sdata(f.sent)}
	case f.sent < f.segs:
		i := f.sent
		f.sent++
		if i == f.lost {
			// Lost before the capture point (never the last segment): the
			// next one shows the gap.
			i = f.sent
			f.sent++
		}
		f.unacked++
		return segment{flags: flACK, seq: sdata(i), ack: cseq, payload: mss}
	default:
		f.phase = phaseClientFIN
		return segment{flags: flFIN | flACK, seq: sdata(f.segs), ack: cseq}
	}
}

// write lays out the frame for seg in buf and returns its length on the
// wire. The payload is zeros, cleared only as far as buf holds it.
func (f *genFlow) write(buf []byte, seg *segment) int {
	src, dst := &f.srv, &f.cli
	sport, dport := f.sport, f.cport
	tsv, tse := f.tss, f.tsc
	if seg.fromClient {
		src, dst = dst, src
		sport, dport = dport, sport
		tsv, tse = tse, tsv
	}
	// Ethernet: locally administered MACs derived from the direction.
	copy(buf[0:6], "\x02\x00\x00\x00\x00\x01")
	copy(buf[6:12], "\x02\x00\x00\x00\x00\x02")
	if seg.fromClient {
		buf[5], buf[11] = 2, 1
	}
	o := 12
	if f.vlan != 0 {
		binary.BigEndian.PutUint16(buf[o:], 0x8100)
		binary.BigEndian.PutUint16(buf[o+2:], f.vlan)
		o += 4
	}
	optLen := 12 // NOP NOP TS
	switch {
	case seg.syn:
		optLen = 20 // MSS, SACK-permitted, TS, NOP, WS
	case seg.sackRight != 0:
		optLen = 12 + 12 // TS + NOP NOP SACK(1 block)
	}
	tcpLen := 20 + optLen
	ipLen := tcpLen + seg.payload
	var ip []byte
	if f.v6 {
		binary.BigEndian.PutUint16(buf[o:], 0x86dd)
		ip = buf[o+2:]
		ip[0], ip[1], ip[2], ip[3] = 0x60, 0, 0, 0
		binary.BigEndian.PutUint16(ip[4:], uint16(ipLen))
		ip[6], ip[7] = 6, 64
		copy(ip[8:24], src[:])
		copy(ip[24:40], dst[:])
		ip = ip[40:]
		o += 2 + 40
	} else {
		binary.BigEndian.PutUint16(buf[o:], 0x0800)
		ip = buf[o+2:]
		ipLen += 20
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
		d := 0
		if seg.fromClient {
			d = 1
		}
		binary.BigEndian.PutUint16(ip[4:], uint16(f.cisn>>uint(16*d))+f.ipid[d])
		f.ipid[d]++
		ip[6], ip[7], ip[8], ip[9] = 0x40, 0, 64, 6
		ip[10], ip[11] = 0, 0
		copy(ip[12:16], src[:4])
		copy(ip[16:20], dst[:4])
		binary.BigEndian.PutUint16(ip[10:], ipsum.Checksum(0, ip[:20]))
		ip = ip[20:]
		o += 2 + 20
	}
	tcp := ip
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seg.seq)
	binary.BigEndian.PutUint32(tcp[8:], seg.ack)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = seg.flags
	win := uint16(2048) // scaled by 2^7: 256 KiB
	if seg.flags&flSYN != 0 {
		win = 64240
	}
	binary.BigEndian.PutUint16(tcp[14:], win)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
	opt := tcp[20:tcpLen]
	if seg.syn {
		copy(opt, "\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x03\x03\x07")
		binary.BigEndian.PutUint32(opt[8:], tsv)
		binary.BigEndian.PutUint32(opt[12:], tse)
		if seg.flags&flACK == 0 {
			binary.BigEndian.PutUint32(opt[12:], 0)
		}
	} else {
		copy(opt, "\x01\x01\x08\x0a")
		binary.BigEndian.PutUint32(opt[4:], tsv)
		binary.BigEndian.PutUint32(opt[8:], tse)
		if seg.sackRight != 0 {
			copy(opt[12:], "\x01\x01\x05\x0a")
			binary.BigEndian.PutUint32(opt[16:], seg.sackLeft)
			binary.BigEndian.PutUint32(opt[20:], seg.sackRight)
		}
	}
	end := min(o+tcpLen+seg.payload, len(buf))
	clear(buf[o+tcpLen : end])
	return o + tcpLen + seg.payload
}
