package flowtable

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// The live differential test: the tests write a capture of hand-made
// connections that exercise every rule (and its corner cases), then
// compare flowtable's events with tshark's frame by frame.

// rawTCP serializes an Ethernet/IPv4/TCP packet with the options of s and
// s.len zero bytes of payload.
func rawTCP(src, dst netip.AddrPort, s seg) []byte {
	var opts [][]byte
	if s.mss > 0 {
		opts = append(opts, pkttest.OptMSS(uint16(s.mss)))
	}
	if s.ws > 0 {
		opts = append(opts, []byte{1}, pkttest.OptWScale(byte(s.ws-1)))
	}
	if s.hasTS {
		opts = append(opts, []byte{1, 1}, pkttest.OptTS(s.tsval, s.tsecr))
	}
	if len(s.sack) > 0 {
		var edges []uint32
		for _, b := range s.sack {
			edges = append(edges, b.Left, b.Right)
		}
		opts = append(opts, []byte{1, 1}, pkttest.OptSACK(edges...))
	}
	h := pkttest.TCP{Seq: s.seq, Ack: s.ack, Flags: uint16(s.flags), Win: s.win, Opts: pkttest.Pad4(opts...)}
	return pkttest.TCPFrame(src, dst, h, make([]byte, s.len))
}

// script records packets of several connections for a capture file.
type script struct {
	now  int64
	pkts []struct {
		ts   int64
		data []byte
	}
}

type sconn struct {
	s        *script
	cli, srv netip.AddrPort
}

func (s *script) conn(cliPort uint16) *sconn {
	return &sconn{s: s, cli: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), cliPort), srv: netip.MustParseAddrPort("10.0.0.2:80")}
}

func (c *sconn) at(d time.Duration) *sconn { c.s.now += int64(d); return c }
func (c *sconn) c2s(g seg) *sconn          { return c.add(c.cli, c.srv, g) }
func (c *sconn) s2c(g seg) *sconn          { return c.add(c.srv, c.cli, g) }
func (c *sconn) add(src, dst netip.AddrPort, g seg) *sconn {
	c.s.pkts = append(c.s.pkts, struct {
		ts   int64
		data []byte
	}{c.s.now, rawTCP(src, dst, g)})
	return c
}

// hs is a handshake with window scale shifts cws/sws (-1 = no option).
func (c *sconn) hs(cws, sws int, rtt time.Duration) *sconn {
	c.c2s(seg{seq: 1000, flags: thSyn, win: 64240, ws: cws + 1, mss: 1460})
	c.at(rtt / 2).s2c(seg{seq: 5000, ack: 1001, flags: thSyn | thAck, win: 65160, ws: sws + 1, mss: 1460})
	return c.at(rtt / 2).c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 502})
}

// rulesScript exercises every rule; comments say what each part provokes.
func rulesScript() *script {
	s := &script{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()}
	a := thAck
	// 1: bulk transfer with loss, dup ACKs with SACK, fast retransmission,
	// out-of-order, spurious and plain retransmissions, window full.
	c := s.conn(40001).hs(7, 7, 2*ms)
	for i := uint32(0); i < 6; i++ {
		if i == 2 {
			continue // lost
		}
		c.at(100 * time.Microsecond).s2c(seg{seq: 5001 + i*1000, ack: 1001, flags: a, win: 509, len: 1000})
		if i >= 3 {
			c.c2s(seg{seq: 1001, ack: 7001, flags: a, win: 502, sack: []decode.SACKBlock{{Left: 8001, Right: 5001 + (i+1)*1000}}})
		} else {
			c.c2s(seg{seq: 1001, ack: 5001 + (i+1)*1000, flags: a, win: 502})
		}
	}
	c.at(ms).s2c(seg{seq: 7001, ack: 1001, flags: a, win: 509, len: 1000}) // fast retransmission
	c.c2s(seg{seq: 1001, ack: 11001, flags: a, win: 502})
	c.at(50 * ms).s2c(seg{seq: 9001, ack: 1001, flags: a, win: 509, len: 1000}) // spurious
	c.s2c(seg{seq: 11001, ack: 1001, flags: a, win: 509, len: 1000})
	c.s2c(seg{seq: 13001, ack: 1001, flags: a, win: 509, len: 1000})              // lost segment
	c.at(ms / 2).s2c(seg{seq: 12001, ack: 1001, flags: a, win: 509, len: 1000})   // out of order (< iRTT)
	c.at(400 * ms).s2c(seg{seq: 12001, ack: 1001, flags: a, win: 509, len: 1000}) // retransmission
	c.c2s(seg{seq: 1001, ack: 14001, flags: a, win: 1})                           // window 128 bytes
	c.s2c(seg{seq: 14001, ack: 1001, flags: a, win: 509, len: 128})               // window full
	c.c2s(seg{seq: 1001, ack: 14129, flags: a, win: 502})
	c.c2s(seg{seq: 1001, ack: 14129, flags: a, win: 600}) // window update
	c.c2s(seg{seq: 1001, ack: 14129, flags: a | thFin, win: 600})
	c.s2c(seg{seq: 14129, ack: 1002, flags: a | thFin, win: 509})
	c.at(time.Second).s2c(seg{seq: 14129, ack: 1002, flags: a | thFin, win: 509}) // FIN retransmitted
	c.c2s(seg{seq: 1002, ack: 14130, flags: a, win: 600})

	// 2: zero window, probes, probe ACKs, window update; keep-alives.
	c = s.conn(40002).hs(-1, -1, 10*ms)
	c.s2c(seg{seq: 5001, ack: 1001, flags: a, win: 65160, len: 100})
	c.c2s(seg{seq: 1001, ack: 5101, flags: a, win: 0})
	c.at(200 * ms).s2c(seg{seq: 5101, ack: 1001, flags: a, win: 65160, len: 1})
	c.c2s(seg{seq: 1001, ack: 5101, flags: a, win: 0})
	c.at(400 * ms).s2c(seg{seq: 5101, ack: 1001, flags: a, win: 65160, len: 1})
	c.c2s(seg{seq: 1001, ack: 5101, flags: a, win: 0})
	c.c2s(seg{seq: 1001, ack: 5101, flags: a, win: 4000})
	c.s2c(seg{seq: 5101, ack: 1001, flags: a, win: 65160, len: 200})
	c.c2s(seg{seq: 1001, ack: 5301, flags: a, win: 4000})
	c.at(time.Minute).s2c(seg{seq: 5300, ack: 1001, flags: a, win: 65160}) // keep-alive
	c.c2s(seg{seq: 1001, ack: 5301, flags: a, win: 4000})                  // keep-alive ACK
	c.at(time.Minute).s2c(seg{seq: 5300, ack: 1001, flags: a, win: 65160, len: 1})
	c.c2s(seg{seq: 1001, ack: 5301, flags: a, win: 4000})
	c.c2s(seg{seq: 1000, ack: 5301, flags: a, win: 4000, len: 10})      // 10 bytes at nextseq-1
	c.s2c(seg{seq: 5301, ack: 1011, flags: a | thRst, win: 0, len: 12}) // RST with data

	// 3: SYN retransmitted, then the SYN-ACK; window full before the
	// first ACK of the handshake (Wireshark's is_first_ack).
	c = s.conn(40003)
	c.c2s(seg{seq: 7000, flags: thSyn, win: 1000, ws: 3, mss: 1460})
	c.at(time.Second).c2s(seg{seq: 7000, flags: thSyn, win: 1000, ws: 3, mss: 1460})
	c.at(ms).s2c(seg{seq: 9000, ack: 7001, flags: thSyn | a, win: 2000, ws: 3})
	c.c2s(seg{seq: 7001, ack: 9001, flags: a | thPsh, win: 125, len: 2000}) // to the SYN-ACK's unscaled edge
	c.s2c(seg{seq: 9001, ack: 9001, flags: a, win: 250})
	c.c2s(seg{seq: 9001, ack: 9001, flags: a, win: 125, len: 2000}) // to ack + 250<<3
	c.s2c(seg{seq: 9001, ack: 11001, flags: a, win: 250})

	// 4: the same ports reused by a new connection (new ISN).
	c.at(2 * time.Second).c2s(seg{seq: 123456, flags: thSyn, win: 1000, ws: 3})
	c.at(ms).s2c(seg{seq: 654321, ack: 123457, flags: thSyn | a, win: 2000, ws: 3})
	c.c2s(seg{seq: 123457, ack: 654322, flags: a, win: 125})

	// 5: mid-stream, no handshake (scale unknown), sequence wraparound.
	c = s.conn(40005)
	base := uint32(0xfffffff4)
	c.s2c(seg{seq: 0xfffffe00, ack: 1, flags: a, win: 1000, len: 500})
	c.c2s(seg{seq: 1, ack: 0xffffffff, flags: a, win: 1000})
	for i := uint32(0); i < 4; i++ {
		c.at(ms).s2c(seg{seq: base + i*500, ack: 1, flags: a, win: 1000, len: 500})
	}
	c.c2s(seg{seq: 1, ack: base + 4*500, flags: a, win: 1000})
	c.at(time.Second).s2c(seg{seq: base, ack: 1, flags: a, win: 1000, len: 500})
	c.c2s(seg{seq: 1, ack: base + 5*500, flags: a, win: 1000}) // acks unseen data

	// 6: simultaneous open.
	c = s.conn(40006)
	c.c2s(seg{seq: 100, flags: thSyn, win: 1000})
	c.s2c(seg{seq: 200, flags: thSyn, win: 1000})
	c.at(ms).s2c(seg{seq: 200, ack: 101, flags: thSyn | a, win: 1000})
	c.c2s(seg{seq: 100, ack: 201, flags: thSyn | a, win: 1000})
	c.c2s(seg{seq: 101, ack: 201, flags: a, win: 1000, len: 10})
	c.s2c(seg{seq: 201, ack: 111, flags: a, win: 1000})
	return s
}

const thPsh = decode.TCPPsh

func TestTsharkLive(t *testing.T) {
	tsharktest.Need40(t)
	path := filepath.Join(t.TempDir(), "rules.pcap")
	w, err := capfile.Create(path, decode.LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rulesScript().pkts {
		if err := w.WritePacket(p.ts, p.data, len(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("FT_KEEP"); d != "" {
		data, _ := os.ReadFile(path)
		os.WriteFile(d, data, 0o644)
	}
	theirs := checkAgainstTshark(t, path)
	// The script must provoke every event the comparison covers.
	var seen EventSet
	for _, s := range theirs {
		seen |= s
	}
	for _, e := range diffEvents {
		if !seen.Has(e) {
			t.Errorf("the script provokes no %s in tshark", e)
		}
	}
}

// checkAgainstTshark analyses path, reports every frame whose events,
// relative numbers or window differ from tshark's, and returns tshark's
// events per frame.
func checkAgainstTshark(t *testing.T, path string) map[uint64]EventSet {
	t.Helper()
	a := analyzeCapture(t, path)
	diffs, theirs := compareFrames(t, path, a)
	diffs = append(diffs, compareNumbers(t, path, a)...)
	for _, d := range diffs {
		t.Error(d)
	}
	return theirs
}

// compareNumbers checks PacketResult's relative seq and ack and scaled
// window against tshark's tcp.seq, tcp.ack and tcp.window_size, frame by
// frame (the window only where flowtable knows the scale).
func compareNumbers(t *testing.T, path string, a fileAnalysis) (diffs []string) {
	t.Helper()
	rows := tsharktest.MustFields(t, path, tsharktest.Query{Filter: "tcp",
		Fields: []string{"frame.number", "tcp.seq", "tcp.ack", "tcp.window_size", "tcp.flags.ack"}})
	compared := 0
	defer func() {
		if compared != len(a.rel) {
			diffs = append(diffs, fmt.Sprintf("%s: compared %d of %d analysed frames", filepath.Base(path), compared, len(a.rel)))
		}
	}()
	for _, f := range rows {
		n, _ := strconv.ParseUint(f[0], 10, 64)
		ours, ok := a.rel[n]
		if !ok {
			continue
		}
		compared++
		seq, _ := strconv.ParseInt(f[1], 10, 64)
		ack, _ := strconv.ParseInt(f[2], 10, 64)
		win, _ := strconv.ParseInt(f[3], 10, 64)
		if f[4] != "1" && f[4] != "True" {
			ack = 0
		}
		if seq != ours[0] || ack != ours[1] || (ours[2] >= 0 && win != ours[2]) {
			diffs = append(diffs, fmt.Sprintf("%s frame %d: tshark seq %d ack %d win %d, flowtable %v", filepath.Base(path), n, seq, ack, win, ours))
		}
	}
	return diffs
}

// compareFrames runs tshark on path and returns the frames whose events
// differ from a's, and tshark's events per frame.
func compareFrames(t *testing.T, path string, a fileAnalysis) ([]string, map[uint64]EventSet) {
	t.Helper()
	fields := []string{"frame.number"}
	for _, e := range diffEvents {
		fields = append(fields, "tcp.analysis."+e.String())
	}
	theirs := map[uint64]EventSet{}
	for _, f := range tsharktest.MustFields(t, path, tsharktest.Query{Fields: fields}) {
		n, _ := strconv.ParseUint(f[0], 10, 64)
		var s EventSet
		for i, e := range diffEvents {
			if f[i+1] != "" {
				s = s.Add(e)
			}
		}
		if s != 0 {
			theirs[n] = s
		}
	}
	var mask EventSet
	for _, e := range diffEvents {
		mask = mask.Add(e)
	}
	var frames []uint64
	seen := map[uint64]bool{}
	for n := range theirs {
		frames, seen[n] = append(frames, n), true
	}
	for n := range a.frames {
		if !seen[n] {
			frames = append(frames, n)
		}
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i] < frames[j] })
	var diffs []string
	for _, n := range frames {
		ours := a.frames[n] & mask
		if ours.MatchesFilter(Retransmission) {
			ours = ours.Add(Retransmission) // tshark's field matches all three
		}
		if ours != theirs[n] {
			diffs = append(diffs, filepath.Base(path)+" frame "+strconv.FormatUint(n, 10)+": tshark "+theirs[n].String()+", flowtable "+ours.String())
		}
	}
	return diffs, theirs
}
