package bench

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// TwoPointConfig shapes a generated pair of captures of the same traffic:
// one at a point near the clients (a SPAN port) and one near the servers,
// Transit further on, with a clock of its own and some packets lost in
// between.
type TwoPointConfig struct {
	Packets    int   // generator packets (each seen at one or both points)
	Concurrent int   // connections open at once (0: DefaultTraffic's)
	TimeScale  int64 // stretch the generator's timeline by this factor (0: 1)
	// Offset is how far the server-side clock is ahead (ns); DriftPPM how
	// fast it gains.
	Offset   int64
	DriftPPM float64
	// LossPct of each direction's packets (handshakes aside) are missing
	// downstream of where they were sent from.
	LossPct float64
	// Transit is the one-way time between the points (0: 2 ms).
	Transit time.Duration
	// Rewrite changes a server-side frame in place (a middlebox between
	// the points: NAT, sequence rewriting); p is its decoded form before
	// the change.
	Rewrite func(frame []byte, p *decode.Packet)
	// NoHandshake leaves SYNs and SYN-ACKs out of both captures.
	NoHandshake bool
}

// TwoPoint is a generated pair with the generator's truth.
type TwoPoint struct {
	Span, Server   []byte // pcap files, in memory
	NSpan, NServer int    // packets in each
	// Removed counts the packets missing downstream, by direction: [0]
	// client to server (missing at the server side), [1] server to client
	// (missing at the client side).
	Removed [2]int
	Config  TwoPointConfig
}

// twoPointSnaplen is the pair's snapshot length.
const twoPointSnaplen = 96

// FromClient tells the generator's client packets (ephemeral ports, above
// the servers' well-known ones) apart.
func FromClient(p *decode.Packet) bool { return p.SrcPort > p.DstPort }

// SNAT is a Rewrite that makes the server side see IPv4 clients from
// 172.x.y.z and a port 1000 higher, as source NAT between the points would.
func SNAT(b []byte, p *decode.Packet) {
	if p.IPVersion != 4 {
		return
	}
	if FromClient(p) {
		binary.BigEndian.PutUint16(b[p.TransOffset:], p.SrcPort+1000)
		b[p.NetOffset+12] = 172
	} else {
		binary.BigEndian.PutUint16(b[p.TransOffset+2:], p.DstPort+1000)
		b[p.NetOffset+16] = 172
	}
	// The checksums are left stale: a capture at the server side sees
	// what the NAT wrote, and correlate does not check them.
}

// MakeTwoPoint generates the pair: bench's many-download traffic (which
// puts a loss and fast retransmission in some connections) as seen at the
// client-side point, and the same packets Transit later (earlier for the
// server's own packets) at the server-side point, in that point's clock
// order, less the packets lost between.
func MakeTwoPoint(o TwoPointConfig) (*TwoPoint, error) {
	cfg := DefaultTraffic
	cfg.Snaplen = twoPointSnaplen
	if o.Concurrent > 0 {
		cfg.Concurrent = o.Concurrent
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	if o.Transit == 0 {
		o.Transit = 2 * time.Millisecond
	}
	n := o.Packets
	if n <= 0 {
		return nil, fmt.Errorf("bench: two-point pair of %d packets", n)
	}
	gen := NewTraffic(cfg)
	type frame struct {
		off, n   int
		orig     int
		tsA, tsB int64
		inA, inB bool
	}
	arena := make([]byte, 0, n*twoPointSnaplen)
	frames := make([]frame, 0, n)
	buf := make([]byte, MaxFrame)
	rng := rand.New(rand.NewPCG(7, 7))
	var p decode.Packet
	var t0 int64
	var removed [2]int
	for i := range n {
		ts, data, orig := gen.Next(buf)
		if i == 0 {
			t0 = ts
		}
		ts = t0 + (ts-t0)*o.TimeScale
		_ = p.Decode(data, decode.LinkEthernet)
		if o.NoHandshake && p.TCPFlags&decode.TCPSyn != 0 {
			continue
		}
		s2c := !FromClient(&p)
		tsB := ts + int64(o.Transit)
		if s2c {
			tsB = ts - int64(o.Transit)
		}
		tsB += o.Offset + int64(float64(tsB-t0)*o.DriftPPM/1e6)
		f := frame{off: len(arena), n: len(data), orig: orig, tsA: ts, tsB: tsB, inA: true, inB: true}
		if rng.Float64()*100 < o.LossPct && p.TCPFlags&decode.TCPSyn == 0 {
			if s2c {
				f.inA = false
				removed[1]++
			} else {
				f.inB = false
				removed[0]++
			}
		}
		arena = append(arena, data...)
		frames = append(frames, f)
	}
	write := func(order []int, ts func(*frame) int64, in func(*frame) bool, rewrite bool) ([]byte, int, error) {
		var out bytes.Buffer
		out.Grow(24 + len(order)*(16+twoPointSnaplen))
		w, err := capfile.NewWriter(&out, capfile.FormatPCAP, decode.LinkEthernet, twoPointSnaplen)
		if err != nil {
			return nil, 0, err
		}
		k := 0
		var q decode.Packet
		for _, i := range order {
			f := &frames[i]
			if !in(f) {
				continue
			}
			data := arena[f.off : f.off+f.n]
			if rewrite && o.Rewrite != nil {
				_ = q.Decode(data, decode.LinkEthernet)
				o.Rewrite(data, &q)
			}
			if err := w.WritePacket(ts(f), data, f.orig); err != nil {
				return nil, 0, err
			}
			k++
		}
		if err := w.Close(); err != nil {
			return nil, 0, err
		}
		return out.Bytes(), k, nil
	}
	order := make([]int, len(frames))
	for i := range order {
		order[i] = i
	}
	tp := &TwoPoint{Removed: removed, Config: o}
	var err error
	if tp.Span, tp.NSpan, err = write(order, func(f *frame) int64 { return f.tsA }, func(f *frame) bool { return f.inA }, false); err != nil {
		return nil, fmt.Errorf("bench: client-side capture: %w", err)
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(frames[x].tsB, frames[y].tsB) })
	if tp.Server, tp.NServer, err = write(order, func(f *frame) int64 { return f.tsB }, func(f *frame) bool { return f.inB }, true); err != nil {
		return nil, fmt.Errorf("bench: server-side capture: %w", err)
	}
	return tp, nil
}
