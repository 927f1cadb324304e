package flowtable

import (
	"net/netip"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

// conv builds decode.Packet values of one TCP connection directly, for
// hand-written sequences: c2s/s2c make a segment, feed runs it through a
// table and records the events per frame.
type conv struct {
	t        *testing.T
	tab      *Table
	cli, srv netip.AddrPort
	now      int64
	frame    uint64
	events   map[uint64]EventSet // by frame
	records  []EventRecord
	expired  []FlowRecord
	last     PacketResult
}

func newConv(t *testing.T, cfg Config) *conv {
	c := &conv{t: t, events: map[uint64]EventSet{},
		cli: netip.MustParseAddrPort("10.0.0.1:40000"), srv: netip.MustParseAddrPort("10.0.0.2:80"),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	cfg.OnEvent = func(r *EventRecord) { c.records = append(c.records, *r) }
	cfg.OnExpire = func(r *FlowRecord) { c.expired = append(c.expired, *r) }
	if cfg.Capacity == 0 {
		cfg.Capacity = 1024
	}
	tab, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.tab = tab
	return c
}

// seg describes one segment; zero fields are defaults.
type seg struct {
	seq, ack uint32
	flags    decode.TCPFlags
	win      uint16
	len      int
	ws       int // window scale option + 1 (0 = none)
	mss      uint16
	sack     []decode.SACKBlock
	tsval    uint32
	tsecr    uint32
	hasTS    bool
	frag     bool
}

func tcpPacket(src, dst netip.AddrPort, s seg) decode.Packet {
	p := decode.Packet{
		Layer: decode.LayerTransport, Link: decode.LinkEthernet,
		Proto:   decode.ProtoTCP,
		SrcPort: src.Port(), DstPort: dst.Port(),
		Seq: s.seq, Ack: s.ack, TCPFlags: s.flags, Window: s.win,
		TCPHeaderLen: 20, PayloadLen: s.len, CapPayloadLen: s.len,
		IPLen: 40 + s.len,
	}
	p.SetAddrs(src.Addr(), dst.Addr())
	if s.ws > 0 {
		p.Flags |= decode.HasWScale
		p.WScale = uint8(s.ws - 1)
	}
	if s.mss > 0 {
		p.Flags |= decode.HasMSS
		p.MSS = s.mss
	}
	if len(s.sack) > 0 {
		p.Flags |= decode.HasSACK
		p.SACKCount = uint8(copy(p.SACK[:], s.sack))
	}
	if s.hasTS {
		p.Flags |= decode.HasTimestamps
		p.TSVal, p.TSEcr = s.tsval, s.tsecr
	}
	if s.frag {
		p.Flags |= decode.Fragment
	}
	return p
}

// at advances the clock by d before the next packet.
func (c *conv) at(d time.Duration) *conv { c.now += int64(d); return c }

func (c *conv) send(fromClient bool, s seg) EventSet {
	src, dst := c.cli, c.srv
	if !fromClient {
		src, dst = dst, src
	}
	p := tcpPacket(src, dst, s)
	c.frame++
	c.tab.Update(&p, c.now, c.frame, &c.last)
	c.events[c.frame] = c.last.Events
	return c.last.Events
}

func (c *conv) c2s(s seg) EventSet { return c.send(true, s) }
func (c *conv) s2c(s seg) EventSet { return c.send(false, s) }

// handshake runs SYN, SYN-ACK, ACK with ISNs 1000 (client) and 5000
// (server), window scale options cws/sws (-1 = absent), 1 ms apart.
func (c *conv) handshake(cws, sws int) {
	c.c2s(seg{seq: 1000, flags: thSyn, win: 65535, ws: cws + 1, mss: 1460})
	c.at(time.Millisecond).s2c(seg{seq: 5000, ack: 1001, flags: thSyn | thAck, win: 65535, ws: sws + 1, mss: 1460})
	c.at(time.Millisecond).c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 512})
}

func (c *conv) flow() FlowRecord {
	r, ok := c.tab.Flow(c.last.Flow)
	if !ok {
		c.t.Fatal("flow not live")
	}
	return r
}

// only asserts that the set has exactly the listed events.
func only(t *testing.T, what string, got EventSet, want ...Event) {
	t.Helper()
	var w EventSet
	for _, e := range want {
		w = w.Add(e)
	}
	if got != w {
		t.Errorf("%s: events %s, want %s", what, got, w)
	}
}
