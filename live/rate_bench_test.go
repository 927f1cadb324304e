package live

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/ring"
)

// zeroDropRates are the offered loads BenchmarkZeroDropRate tries, in
// packets per second, lowest first.
var zeroDropRates = []int{25e3, 50e3, 100e3, 150e3, 200e3, 250e3, 300e3, 350e3, 400e3, 500e3, 600e3, 800e3}

// pacedUDP sends small UDP datagrams (64-byte payload) from namespace ns
// to to:5001 over flows distinct source ports, round robin, at rate
// packets per second for d, and returns how many it sent. It sleeps when
// ahead of schedule, so the load is bursty at the scale of the timer
// (about 100 µs), as real traffic is.
func pacedUDP(ns string, to netip.Addr, flows, rate int, d time.Duration) (int, error) {
	conns := make([]*net.UDPConn, flows)
	if err := ringtest.InNS(ns, func() error {
		for i := range conns {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 5001)))
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	}); err != nil {
		return 0, err
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// sendmmsg(2) batches of 32 datagrams a socket: one Go sender then
	// offers more than a core of capture can take.
	const batch = 32
	pcs := make([]*ipv4.PacketConn, flows)
	for i, c := range conns {
		pcs[i] = ipv4.NewPacketConn(c)
	}
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 64)}
	}
	start := time.Now()
	n := 0
	for {
		el := time.Since(start)
		if el >= d {
			return n, nil
		}
		if ahead := time.Duration(float64(n)/float64(rate)*1e9) - el; ahead > 200*time.Microsecond {
			time.Sleep(ahead)
			continue
		}
		for i := range msgs {
			binary.BigEndian.PutUint64(msgs[i].Buffers[0], uint64(n+i))
		}
		k, _ := pcs[(n/batch)%flows].WriteBatch(msgs, 0)
		n += max(k, 1) // a failed batch still counts against the schedule
	}
}

// BenchmarkZeroDropRate finds the highest packet rate `netblame capture`'s
// session keeps with 0 kernel drops, for 1 and 2 hash-fanout workers,
// with and without live analysis (no file is written). The load is small
// UDP datagrams over 64 flows from one namespace to the other across a
// veth pair (offloads off), captured at snaplen 128 on the receiving end
// with the default ring (4 MiB a worker). Each offered rate runs for one
// second, from the lowest up, until the kernel drops or the sender cannot
// reach 95% of the rate. Root only. Run it with
//
//	go test ./live -run '^$' -bench ZeroDropRate -benchtime 1x -v
//
// The reported max_pps is the highest rate delivered (received on the
// interface) with 0 drops; sender_limited=1 says the sender, not the
// capture, set it. flood_pps and flood_drops are one more second with the
// sender unpaced.
func BenchmarkZeroDropRate(b *testing.B) {
	p := ringtest.ForTest(b)
	// A socket at the receiving end keeps the kernel from answering with
	// ICMP port unreachable; nothing reads it (its buffer overflows, which
	// is not the capture's drop).
	var sink *net.UDPConn
	if err := ringtest.InNS(p.NSB, func() (err error) {
		sink, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB, 5001)))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	for _, analyze := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("workers=%d/analyze=%v", workers, analyze), func(b *testing.B) {
				for b.Loop() {
					best, limited := 0.0, false
					for _, rate := range zeroDropRates {
						got, drops, err := zeroDropTrial(b, p, workers, analyze, rate)
						if err != nil {
							b.Fatal(err)
						}
						b.Logf("offered %d pkt/s: delivered %.0f pkt/s, %d kernel drops", rate, got, drops)
						if drops > 0 {
							break
						}
						best = got
						if got < 0.95*float64(rate) {
							limited = true
							break
						}
					}
					// Then as fast as the sender goes: what the capture does
					// when the machine is saturated.
					flood, fdrops, err := zeroDropTrial(b, p, workers, analyze, 1e8)
					if err != nil {
						b.Fatal(err)
					}
					b.Logf("unpaced: delivered %.0f pkt/s, %d kernel drops", flood, fdrops)
					b.ReportMetric(flood, "flood_pps")
					b.ReportMetric(float64(fdrops), "flood_drops")
					b.ReportMetric(best, "max_pps")
					sl := 0.0
					if limited {
						sl = 1
					}
					b.ReportMetric(sl, "sender_limited")
				}
			})
		}
	}
}

// zeroDropTrial runs one session for one second of load at rate and
// returns the rate the interface received and the kernel drops.
func zeroDropTrial(b *testing.B, p *ringtest.Pair, workers int, analyze bool, rate int) (float64, uint64, error) {
	var s *Session
	if err := ringtest.InNS(p.NSB, func() (err error) {
		s, err = Open(Config{Ring: ring.Config{Interface: p.IfB, Snaplen: 128, Workers: workers}, Filter: "udp", Analyze: analyze})
		return err
	}); err != nil {
		return 0, 0, err
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan *Report, 1)
	go func() {
		rep, _ := s.Run(ctx, Hooks{})
		res <- rep
	}()
	rx0, _, _ := ringtest.Counters(p.NSB, p.IfB)
	start := time.Now()
	if _, err := pacedUDP(p.NSA, p.AddrB, 64, rate, time.Second); err != nil {
		cancel()
		return 0, 0, err
	}
	el := time.Since(start)
	rx1, _, _ := ringtest.Counters(p.NSB, p.IfB)
	time.Sleep(50 * time.Millisecond)
	cancel()
	rep := <-res
	if rep.RingErr != nil {
		return 0, 0, rep.RingErr
	}
	return float64(rx1-rx0) / el.Seconds(), rep.Ring.Total.Kernel.Drops, nil
}
