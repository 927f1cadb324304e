package flowtable

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/samples"
)

// Two shortcuts save work on most packets: an Owner reuses the previous
// packet's key when the packet continues its flow, and steadyPacket
// handles steady segments with the few rules that can fire on them. These
// tests feed the same packets to a table with both shortcuts and to one
// that makes every key and applies every rule to every segment, and
// require the same results, events, flow state and shard state after each
// packet.

// lockstep runs the two tables side by side.
type lockstep struct {
	tb              testing.TB
	fast, all       *Table
	owners          [2]*Owner // of fast and all
	evFast, evAll   []EventRecord
	endFast, endAll []FlowRecord
	packets, steady int    // packets fed, and how many of them steadyPacket took
	ended           uint64 // flows handed to OnExpire

	// prefetch: packets are fed in batches, and the fast table's owner
	// prefetches each batch first.
	prefetch bool
	pending  []pendingPacket
}

type pendingPacket struct {
	p     decode.Packet
	ts    int64
	frame uint64
}

// feed is update, or with prefetch a place in the batch.
func (l *lockstep) feed(what string, p *decode.Packet, ts int64, frame uint64) {
	l.tb.Helper()
	if !l.prefetch {
		l.update(what, p, ts, frame)
		return
	}
	l.pending = append(l.pending, pendingPacket{*p, ts, frame})
	if len(l.pending) == prefetchMax {
		l.drain(what)
	}
}

// drain feeds the batch: Prefetch, then each packet in order.
func (l *lockstep) drain(what string) {
	l.tb.Helper()
	var ptrs []*decode.Packet
	for i := range l.pending {
		ptrs = append(ptrs, &l.pending[i].p)
	}
	l.owners[0].Prefetch(ptrs)
	for i := range l.pending {
		e := &l.pending[i]
		l.update(what, &e.p, e.ts, e.frame)
	}
	l.pending = l.pending[:0]
}

func newLockstep(tb testing.TB, cfg Config) *lockstep {
	l := &lockstep{tb: tb}
	newTable := func(ev *[]EventRecord, end *[]FlowRecord) *Table {
		c := cfg
		c.Seed = 1 // both tables put each flow in the same slot
		c.OnEvent = func(r *EventRecord) { *ev = append(*ev, *r) }
		c.OnExpire = func(r *FlowRecord) { *end = append(*end, *r) }
		tab, err := New(c)
		if err != nil {
			tb.Fatal(err)
		}
		return tab
	}
	l.fast = newTable(&l.evFast, &l.endFast)
	l.all = newTable(&l.evAll, &l.endAll)
	l.all.noShortcuts = true
	l.owners = [2]*Owner{l.fast.SoleOwner(), l.all.SoleOwner()}
	return l
}

func (l *lockstep) update(what string, p *decode.Packet, ts int64, frame uint64) {
	l.tb.Helper()
	l.packets++
	var got, want PacketResult
	l.owners[0].Update(p, ts, frame, &got)
	l.owners[1].Update(p, ts, frame, &want)
	if got != want {
		l.tb.Fatalf("%s frame %d: result %+v, all rules give %+v", what, frame, got, want)
	}
	if len(l.evFast) != len(l.evAll) {
		l.tb.Fatalf("%s frame %d: events %+v, all rules give %+v", what, frame, l.evFast, l.evAll)
	}
	for i := range l.evFast {
		if l.evFast[i] != l.evAll[i] {
			l.tb.Fatalf("%s frame %d: event %+v, all rules give %+v", what, frame, l.evFast[i], l.evAll[i])
		}
	}
	l.evFast, l.evAll = l.evFast[:0], l.evAll[:0]
	l.sameEnds(what, frame)
	if got.Tracked {
		shard, slot, _ := got.Flow.parts()
		sf, sa := l.fast.shards[shard], l.all.shards[shard]
		stf, sta := sf.st, sa.st
		stf.steady = 0
		if sf.now != sa.now || sf.nextExpiry != sa.nextExpiry || sf.last != sa.last || stf != sta {
			l.tb.Fatalf("%s frame %d: shard clock %d, next expiry %d, last slot %d, %+v\nall rules: %d, %d, %d, %+v",
				what, frame, sf.now, sf.nextExpiry, sf.last, stf, sa.now, sa.nextExpiry, sa.last, sta)
		}
		if sf.hot[slot] != sa.hot[slot] {
			l.tb.Fatalf("%s frame %d: flow state\n%+v\nall rules:\n%+v", what, frame, sf.hot[slot], sa.hot[slot])
		}
		if sf.cold[slot] != sa.cold[slot] {
			l.tb.Fatalf("%s frame %d: flow statistics\n%+v\nall rules:\n%+v", what, frame, sf.cold[slot], sa.cold[slot])
		}
	}
}

func (l *lockstep) sameEnds(what string, frame uint64) {
	l.tb.Helper()
	if len(l.endFast) != len(l.endAll) {
		l.tb.Fatalf("%s frame %d: %d flows ended, all rules end %d", what, frame, len(l.endFast), len(l.endAll))
	}
	l.ended += uint64(len(l.endFast))
	for i := range l.endFast {
		if l.endFast[i] != l.endAll[i] {
			l.tb.Fatalf("%s frame %d: flow record\n%+v\nall rules:\n%+v", what, frame, l.endFast[i], l.endAll[i])
		}
	}
	l.endFast, l.endAll = l.endFast[:0], l.endAll[:0]
}

// steadyCount is how many packets steadyPacket took so far.
func (l *lockstep) steadyCount() int {
	n := 0
	for _, s := range l.fast.shards {
		n += int(s.st.steady)
	}
	return n
}

func (l *lockstep) finish(what string) {
	l.tb.Helper()
	l.drain(what)
	l.steady = l.steadyCount()
	l.fast.Flush()
	l.all.Flush()
	l.sameEnds(what, 0)
}

func (l *lockstep) feedCapture(what string, r *capfile.Reader) {
	l.tb.Helper()
	var cp capfile.Packet
	var p decode.Packet
	for {
		err := r.Next(&cp)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				l.tb.Logf("%s: read stops: %v", what, err)
			}
			break
		}
		_ = p.Decode(cp.Data, cp.Link)
		l.feed(what, &p, cp.Timestamp, cp.Frame)
	}
	l.finish(what)
}

// Every capture at hand: the samples in the repository, the shared ones
// (when ../shared is there) and, with NETBLAME_BENCH_PCAP, the benchmark's.
func TestSteadyMatchesAllRulesOnCaptures(t *testing.T) { steadyOnCaptures(t, false) }

// TestPrefetchChangesNothing: Prefetch before every batch of 16 packets
// (on tables of any size) leaves the results and the state of the table
// with the shortcuts equal to the one without.
func TestPrefetchChangesNothing(t *testing.T) {
	defer func(n int) { prefetchMinLive = n }(prefetchMinLive)
	prefetchMinLive = 0
	steadyOnCaptures(t, true)
	steadyRandom(t, true)
}

func steadyOnCaptures(t *testing.T, prefetch bool) {
	total, steady := 0, 0
	run := func(what string, r *capfile.Reader) {
		l := newLockstep(t, Config{Capacity: 1 << 16, IgnoreVLAN: true})
		l.prefetch = prefetch
		l.feedCapture(what, r)
		total += l.packets
		steady += l.steady
	}
	fsys := samples.TwoPoint()
	for _, name := range samples.Names() {
		for _, side := range []string{"span.pcap", "server.pcap"} {
			f, err := fsys.Open(name + "/" + side)
			if err != nil {
				t.Fatal(err)
			}
			r, err := capfile.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			run(name+"/"+side, r)
			f.Close()
		}
	}
	var paths []string
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, row := range readCounts(t, dir) {
			paths = append(paths, filepath.Join(dir, row.file))
		}
		tp := filepath.Join(filepath.Dir(dir), "twopoint")
		caps, _ := fs.Glob(os.DirFS(tp), "*/*.pcap*")
		for _, c := range caps {
			paths = append(paths, filepath.Join(tp, c))
		}
	} else {
		t.Log("../shared not found: only the repository's samples are compared")
	}
	if p := os.Getenv("NETBLAME_BENCH_PCAP"); p != "" {
		paths = append(paths, p)
	}
	for _, path := range paths {
		r, err := capfile.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		run(path, r)
		r.Close()
	}
	t.Logf("%d packets, %d (%.1f%%) through the shortcut", total, steady, 100*float64(steady)/float64(total))
	// The comparison means little if the shortcut is never taken.
	if steady < total/2 {
		t.Errorf("only %d of %d packets took the shortcut", steady, total)
	}
}

// Random connections that are mostly in order, with every kind of
// irregularity mixed in: loss, retransmission, reordering, duplicate and
// old ACKs, window changes down to zero, probes, keep-alives, SYN, FIN and
// RST, simultaneous opens, uncaptured SYN-ACKs, window scaling on or off,
// timestamps (and timestamps out of order), SACK, idle gaps, fragments,
// and the same endpoints in UDP or under a VLAN tag.
func TestSteadyMatchesAllRulesRandom(t *testing.T) { steadyRandom(t, false) }

func steadyRandom(t *testing.T, prefetch bool) {
	rng := rand.New(rand.NewPCG(7, 11))
	total, steady := 0, 0
	for run := range 300 {
		// Timeouts of a few ms, so that flows expire between packets of
		// the same tick and the same flow.
		l := newLockstep(t, Config{Capacity: 64, Shards: 2,
			Timeouts: Timeouts{HalfOpen: 3 * time.Millisecond, Established: 40 * time.Millisecond,
				Closing: 5 * time.Millisecond, UDP: 20 * time.Millisecond}})
		l.prefetch = prefetch
		randomConnections(rng, 2000, func(p *decode.Packet, ts int64, frame uint64) {
			l.feed("random run "+strconv.Itoa(run), p, ts, frame)
		})
		l.finish("random run " + strconv.Itoa(run))
		total += l.packets
		steady += l.steady
	}
	t.Logf("%d packets, %d (%.1f%%) through the shortcut", total, steady, 100*float64(steady)/float64(total))
	if steady < total/5 {
		t.Errorf("only %d of %d packets took the shortcut", steady, total)
	}
}

// randomConnections generates n segments over six connections and hands
// each to feed. Most share the client's port and differ only in an
// address or the IP version, so that telling them apart takes more than
// the ports.
func randomConnections(rng *rand.Rand, n int, feed func(*decode.Packet, int64, uint64)) {
	type end struct {
		next, acked uint32 // next sequence number to send; highest ACK sent
		win         uint16
	}
	type connState struct {
		cli, srv netip.AddrPort
		ends     [2]end // client, server
		ws       int    // window scale option + 1 on the SYNs (0: none)
		ts       bool
		tsClock  uint32
		phase    int  // of the handshake: 0 SYN next, 1 SYN-ACK, 2 ACK, 3 done
		closed   bool // FIN or RST sent
	}
	var conns []connState
	for _, ends := range [][2]string{
		{"10.0.0.1:40000", "10.0.0.2:80"},
		{"10.0.0.1:40000", "10.0.0.3:80"},
		{"10.0.0.1:40001", "10.0.0.2:80"},
		{"[fd00::1]:40000", "[fd00::2]:80"},
		{"[fd00::1]:40000", "[fd00::3]:80"},
		{"[::ffff:10.0.0.1]:40000", "[::ffff:10.0.0.2]:80"},
	} {
		conns = append(conns, connState{cli: netip.MustParseAddrPort(ends[0]), srv: netip.MustParseAddrPort(ends[1])})
	}
	now := int64(1_700_000_000) * 1e9
	c := &conns[0]
	for frame := uint64(1); frame <= uint64(n); frame++ {
		if rng.IntN(8) == 0 { // packets come in bursts of one connection
			c = &conns[rng.IntN(len(conns))]
		}
		now += int64(rng.ExpFloat64() * 5e4)
		if rng.IntN(500) == 0 {
			now += int64(rng.IntN(400)) * 1e9 // idle: timeouts may end the flow
		}
		// Opening: SYN, SYN-ACK, ACK, each sometimes repeated; a closed
		// connection soon reopens, an open one rarely.
		d := rng.IntN(2)
		switch {
		case c.phase == 0:
			d = 0
		case c.closed && rng.IntN(10) == 0, rng.IntN(1000) == 0:
			// New ISNs, or (sometimes, while open) the ones of before.
			if c.closed || rng.IntN(4) != 0 {
				c.ends[0].next = rng.Uint32()
				c.ends[1].next = rng.Uint32()
			}
			c.phase, c.closed, d = 0, false, 0
		case c.phase < 3:
			d = c.phase % 2 // SYN-ACK from the server, then the ACK
		}
		src, dst := c.cli, c.srv
		if d == 1 {
			src, dst = dst, src
		}
		me, peer := &c.ends[d], &c.ends[1-d]
		var g seg
		if c.phase < 3 {
			switch c.phase {
			case 0: // sometimes without window scaling or timestamps
				c.ws = rng.IntN(3) * (1 + rng.IntN(8))
				c.ts = rng.IntN(2) == 0
				c.ends[0].win, c.ends[1].win = 65535, 65535
				g = seg{seq: me.next, flags: thSyn, win: 65535, ws: c.ws, mss: 1460}
			case 1:
				g = seg{seq: me.next, ack: peer.next + 1, flags: thSyn | thAck, win: 65535, ws: c.ws, mss: 1460}
				if rng.IntN(8) == 0 { // a simultaneous open
					g.flags, g.ack = thSyn, 0
				}
				if rng.IntN(8) == 0 { // sent but not captured
					me.next++
					c.phase++
					continue
				}
			case 2:
				g = seg{seq: me.next, ack: peer.next, flags: thAck, win: me.win}
			}
			if rng.IntN(5) != 0 { // else it is sent again
				if c.phase < 2 {
					me.next++
				}
				c.phase++
			}
		} else {
			g = seg{seq: me.next, ack: peer.next, flags: thAck, win: me.win}
			switch k := rng.IntN(100); {
			case k < 55: // in-order data
				g.len = 1 + rng.IntN(1448)
				if rng.IntN(8) == 0 {
					g.len = 1
				}
				me.next += uint32(g.len)
			case k < 75: // a pure ACK of everything (or of less)
				if rng.IntN(6) == 0 {
					g.ack = peer.next - uint32(rng.IntN(3000))
				}
			case k < 80: // retransmission or out of order: data sent before
				g.len = 1 + rng.IntN(1448)
				g.seq = me.next - uint32(rng.IntN(6000))
			case k < 84: // loss: skip ahead before sending
				me.next += uint32(rng.IntN(3000))
				g.seq = me.next
				g.len = rng.IntN(1448)
				me.next += uint32(g.len)
			case k < 88: // duplicate ACK (repeated exactly) or a window update
				g.ack = me.acked
				if rng.IntN(2) == 0 {
					me.win = uint16(rng.IntN(65536))
					g.win = me.win
				}
			case k < 91: // the window closes or reopens
				me.win = uint16(rng.IntN(3) * rng.IntN(65536))
				g.win = me.win
			case k < 93: // keep-alive or zero-window probe
				g.seq = me.next - uint32(rng.IntN(2))
				g.len = rng.IntN(2)
			case k < 94: // FIN
				c.closed = true
				g.flags |= thFin
				g.len = rng.IntN(3) * rng.IntN(500)
				me.next += uint32(g.len) + 1
			case k < 95: // RST, sometimes with data
				c.closed = true
				g.flags = thRst | thAck*decode.TCPFlags(rng.IntN(2))
				g.len = rng.IntN(2) * rng.IntN(100)
			case k < 97: // an ACK beyond anything sent
				g.ack = peer.next + uint32(rng.IntN(100000))
			default: // odd flags: PSH, URG, ECE, no ACK, FIN, RST
				g.flags = decode.TCPFlags(rng.IntN(256)) &^ thSyn
				c.closed = c.closed || g.flags&(thFin|thRst) != 0
				g.len = rng.IntN(1448)
				me.next += uint32(g.len)
			}
			if rng.IntN(50) == 0 {
				g.sack = []decode.SACKBlock{{Left: peer.next - 3000, Right: peer.next - 1000}}
			}
			if g.flags&thAck != 0 && seqGT(g.ack, me.acked) {
				me.acked = g.ack
			}
		}
		if c.ts {
			c.tsClock += uint32(rng.IntN(3))
			g.hasTS, g.tsval, g.tsecr = true, c.tsClock, c.tsClock-uint32(rng.IntN(4))
		}
		p := tcpPacket(src, dst, g)
		switch rng.IntN(100) {
		case 0, 1: // the same addresses and ports in UDP are another flow
			p.Proto = decode.ProtoUDP
		case 2, 3: // and so they are under a VLAN tag
			p.VLANCount, p.VLANs[0] = 1, 7
		case 4: // a segment whose length is unknown is not analysed
			p.Flags |= decode.Fragment
		case 5:
			p.Flags |= decode.ShortIPLength
		case 6:
			p.PayloadLen = -1
		}
		ts := now
		if rng.IntN(100) == 0 { // a timestamp out of order, as in merged captures
			ts -= int64(rng.IntN(3e6))
		}
		feed(&p, ts, frame)
	}
}

// A shard that saw no packet for a while lags the table's clock; its next
// packet brings it up to date even when steadyPacket takes it, and even
// when the packet's own time is older (merged captures).
func TestSteadyPacketFollowsTableClock(t *testing.T) {
	l := newLockstep(t, Config{Capacity: 1024, Shards: 64})
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	// Two connections on different shards.
	x := netip.MustParseAddrPort("10.0.0.1:40000")
	var y netip.AddrPort
	for port := uint16(40001); ; port++ {
		y = netip.AddrPortFrom(x.Addr(), port)
		px, py := tcpPacket(x, srv, seg{}), tcpPacket(y, srv, seg{})
		if l.fast.ShardOf(&px) != l.fast.ShardOf(&py) {
			break
		}
	}
	base := int64(1_700_000_000_000_000_000) &^ (tickNs - 1) // a tick starts here
	frame := uint64(0)
	send := func(src, dst netip.AddrPort, ts int64, g seg) {
		frame++
		p := tcpPacket(src, dst, g)
		l.update("clock", &p, ts, frame)
	}
	for _, cli := range []netip.AddrPort{x, y} {
		send(cli, srv, base, seg{seq: 100, flags: thSyn, win: 65535})
		send(srv, cli, base, seg{seq: 500, ack: 101, flags: thSyn | thAck, win: 65535})
		send(cli, srv, base, seg{seq: 101, ack: 501, flags: thAck, win: 65535})
	}
	ms := int64(time.Millisecond)
	send(x, srv, base+ms/10, seg{seq: 101, ack: 501, flags: thAck, win: 65535, len: 100})
	for i := int64(2); i < 50; i++ { // y moves the table's clock on by 5 ms
		send(y, srv, base+i*ms/10, seg{seq: 101 + uint32(i-2)*100, ack: 501, flags: thAck, win: 65535, len: 100})
	}
	px := tcpPacket(x, srv, seg{})
	if sx := l.fast.shards[l.fast.ShardOf(&px)]; sx.now >= l.fast.clock.Load() {
		t.Fatal("no sweep should have brought x's shard up to the table's clock; the test shows nothing")
	}
	before := l.steadyCount()
	// x again, in the tick of its last packet, older than the table's clock.
	send(x, srv, base+3*ms/10, seg{seq: 201, ack: 501, flags: thAck, win: 65535, len: 100})
	if l.steadyCount() == before {
		t.Fatal("the last packet did not take the shortcut; the test shows nothing")
	}
	l.finish("clock")
}

// After Flush the slot of the shard's last flow is free but still holds its
// key: the flow's next packet, even in the same tick, starts a new flow.
func TestSteadyPacketAfterFlush(t *testing.T) {
	l := newLockstep(t, Config{Capacity: 64, Shards: 2})
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	base := int64(1_700_000_000_000_000_000) &^ (tickNs - 1)
	segs := []seg{
		{seq: 100, flags: thSyn, win: 65535},
		{seq: 500, ack: 101, flags: thSyn | thAck, win: 65535},
		{seq: 101, ack: 501, flags: thAck, win: 65535},
		{seq: 101, ack: 501, flags: thAck, win: 65535, len: 100},
		{seq: 201, ack: 501, flags: thAck, win: 65535, len: 100},
	}
	for i, g := range segs {
		src, dst := cli, srv
		if i == 1 {
			src, dst = srv, cli
		}
		p := tcpPacket(src, dst, g)
		l.update("flush", &p, base+int64(i)*1000, uint64(i+1))
		if i == 3 {
			l.fast.Flush()
			l.all.Flush()
			l.sameEnds("flush", uint64(i+1))
		}
	}
	l.finish("flush")
}
