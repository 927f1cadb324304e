package correlate_test

import (
	"bytes"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/decode"
)

// twoPoint is a synthetic pair of captures of the same traffic.
type twoPoint struct {
	span, server []byte // pcap files
	nSpan, nSrv  int    // packets in each
	removed      [2]int // packets missing downstream, by direction (c2s, s2c)
}

const (
	benchPackets = 1_000_000
	benchOffset  = 3 * time.Second
	benchTransit = 2 * time.Millisecond // one way, between the points
	benchLossPct = 2.0                  // lost between the points, each direction
)

var (
	benchOnce sync.Once
	benchPair twoPoint
)

// synthOpts shapes a synthetic two-point pair.
type synthOpts struct {
	packets    int
	concurrent int     // connections open at once (0: bench's default)
	timeScale  int64   // stretch the generator's timeline by this factor (0: 1)
	offset     int64   // server clock ahead, ns
	driftPPM   float64 // server clock drift
	lossPct    float64 // missing downstream, each direction
	// rewrite changes a server-side frame in place (a middlebox between
	// the points); p is its decoded form before the change.
	rewrite func(frame []byte, p *decode.Packet)
	// noHandshake leaves SYNs and SYN-ACKs out of both captures.
	noHandshake bool
}

// makeTwoPoint generates n packets of many concurrent downloads (bench's
// generator, which also puts a loss and fast retransmission in some
// connections) and writes them as seen at a client-side point and at a
// server-side point benchTransit further on: the server capture's clock is
// benchOffset ahead and drifts 20 ppm, and benchLossPct of each direction's
// packets are missing downstream of where they were sent from.
func makeTwoPoint(tb testing.TB, n int) twoPoint {
	return makeSynth(tb, synthOpts{packets: n, offset: int64(benchOffset), driftPPM: 20, lossPct: benchLossPct})
}

// makeSynth generates the pair with bench's two-point generator (shared
// with `netblame bench`'s correlate suite).
func makeSynth(tb testing.TB, o synthOpts) twoPoint {
	tp, err := bench.MakeTwoPoint(bench.TwoPointConfig{
		Packets: o.packets, Concurrent: o.concurrent, TimeScale: o.timeScale,
		Offset: o.offset, DriftPPM: o.driftPPM, LossPct: o.lossPct,
		Transit: benchTransit, Rewrite: o.rewrite, NoHandshake: o.noHandshake,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return twoPoint{span: tp.Span, server: tp.Server, nSpan: tp.NSpan, nSrv: tp.NServer, removed: tp.Removed}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func readCapture(tb testing.TB, name string, b []byte) *correlate.Capture {
	r, err := capfile.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	c := correlate.NewCapture(name)
	if err := c.ReadFrom(r); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkCorrelate correlates two synthetic captures of about a million
// packets each (about 30,000 connections, 2% loss between the points each
// way, a 3 s clock offset with 20 ppm drift), from pcap bytes in memory to
// the verdict. "read" is its peer in the same run: reading and decoding
// both captures and nothing else. ns/pkt and B/pkt count the packets of
// both captures; B/pkt is every byte allocated (runtime.MemStats
// TotalAlloc), so it bounds the memory held.
func BenchmarkCorrelate(b *testing.B) {
	benchOnce.Do(func() { benchPair = makeTwoPoint(b, benchPackets) })
	tp := benchPair
	pkts := float64(tp.nSpan + tp.nSrv)

	run := func(b *testing.B, fn func()) {
		b.ReportAllocs()
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c0 := cpuTime()
		start := time.Now()
		for b.Loop() {
			fn()
		}
		el := time.Since(start)
		cpu := cpuTime() - c0
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(el.Nanoseconds())/float64(b.N)/pkts, "ns/pkt")
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(b.N)/pkts, "B/pkt")
		b.ReportMetric(el.Seconds()/float64(b.N), "s/op")
		// CPU time (user+system, all threads) is what the machine's other
		// load does not inflate.
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
	b.Run("read", func(b *testing.B) {
		run(b, func() {
			for _, f := range [][]byte{tp.span, tp.server} {
				r, _ := capfile.NewReader(bytes.NewReader(f))
				var cp capfile.Packet
				var dp decode.Packet
				for r.Next(&cp) != io.EOF {
					_ = dp.Decode(cp.Data, cp.Link)
				}
			}
		})
	})
	b.Run("correlate", func(b *testing.B) {
		run(b, func() {
			a := readCapture(b, "span", tp.span)
			s := readCapture(b, "server", tp.server)
			rep := correlate.Correlate(a, s, correlate.Options{})
			if len(rep.Flows) == 0 {
				b.Fatal("no flows correlated")
			}
		})
	})
}

// TestSyntheticTwoPoint checks the benchmark's work on a small scale: every
// connection matches, every packet missing downstream is found in the right
// direction, and the clock offset comes out within a millisecond.
func TestSyntheticTwoPoint(t *testing.T) {
	tp := makeTwoPoint(t, 20000)
	a := readCapture(t, "span", tp.span)
	s := readCapture(t, "server", tp.server)
	rep := correlate.Correlate(a, s, correlate.Options{})
	if len(rep.OnlyClientSide)+len(rep.OnlyServerSide) != 0 || len(rep.Flows) == 0 {
		t.Fatalf("%d flows correlated, %d/%d seen at one point only", len(rep.Flows), len(rep.OnlyClientSide), len(rep.OnlyServerSide))
	}
	var missing [2]int
	for _, f := range rep.Flows {
		missing[0] += f.LostBetween.C2S + f.CaptureDropAt.ServerSide
		missing[1] += f.LostBetween.S2C + f.CaptureDropAt.ClientSide
	}
	// Every packet removed downstream is found missing, as lost between
	// the points or as dropped by the downstream capture.
	if missing != tp.removed {
		t.Errorf("missing downstream c2s %d s2c %d, generator removed %d %d", missing[0], missing[1], tp.removed[0], tp.removed[1])
	}
	if d := rep.ClockOffset.Seconds() - benchOffset.Seconds(); d > 1e-3 || d < -1e-3 {
		t.Errorf("clock offset %.6f s, want %.6f", rep.ClockOffset.Seconds(), benchOffset.Seconds())
	}
}
