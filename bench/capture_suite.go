package bench

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/ring"
)

// Capture settings every capturer of the suite gets alike.
const (
	CaptureSnaplen    = 128
	CaptureBlockSize  = 256 << 10
	CaptureNumBlocks  = 16 // 4 MiB of ring
	CaptureRingBytes  = CaptureBlockSize * CaptureNumBlocks
	captureLoadConns  = 4
	captureServerPort = 5001
	captureUDPPort    = 5002 // the rate case's datagrams
)

// probeXDP opens and closes the XDP capturer once: where the kernel or
// the driver cannot, the case is skipped with the reason.
func probeXDP(lab *CaptureLab) error {
	r := &ringCapturer{xdp: true}
	if err := r.Start(lab); err != nil {
		return err
	}
	_, err := r.Stop()
	return err
}

// CaptureLab is the capture suite's network: two namespaces of its own
// joined by a veth pair (internal/ringtest: addresses only inside them,
// offloads off so segments are MTU-sized), with a real Linux TCP bulk load
// from A to B. Captures run on B's end.
type CaptureLab struct {
	Pair *ringtest.Pair
	MB   int64 // each of the load's uploads
}

// CaptureLab makes the suite's lab the first time it is asked for, or
// returns why it cannot be made here (not root, no ip command); Run
// removes it at the end.
func (e *Env) CaptureLab() (*CaptureLab, error) {
	if e.lab != nil || e.labErr != nil {
		return e.lab, e.labErr
	}
	if err := ringtest.Available(); err != nil {
		e.labErr = err
		return nil, err
	}
	p, err := ringtest.NewPair("nbb")
	if err != nil {
		e.labErr = err
		return nil, err
	}
	mb := int64(150)
	if e.Quick {
		mb = 40
	}
	e.lab = &CaptureLab{Pair: p, MB: mb}
	e.cleanup = append(e.cleanup, p.Close)
	return e.lab, nil
}

// Capturer is one implementation of live capture on the lab's B end.
type Capturer interface {
	// Start opens the capture; packets after it returns are captured.
	Start(lab *CaptureLab) error
	// Stop ends it once the load is over.
	Stop() (CaptureResult, error)
}

// CaptureResult is what a capturer saw.
type CaptureResult struct {
	Packets uint64        // captured (delivered to the program)
	Drops   uint64        // the kernel's drops
	CPU     time.Duration // the capturer's user+system time
}

// Case measures c under the lab's load: each run starts the capture, sends
// the load, stops it. ns_per_packet is the capturer's CPU time per captured
// packet (softirq time lands on whichever thread runs, so compare it, do
// not add it up); drops are the kernel's.
func (lab *CaptureLab) Case(impl string, c Capturer) Case {
	return Case{
		Impl: impl, Case: fmt.Sprintf("tcp-bulk-%dx%dMB", captureLoadConns, lab.MB), Packets: 1,
		Measured: func() (RunResult, error) {
			if err := c.Start(lab); err != nil {
				return RunResult{}, err
			}
			p := lab.Pair
			rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
			start := time.Now()
			loadErr := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, captureServerPort, captureLoadConns, lab.MB<<20)
			el := time.Since(start)
			time.Sleep(100 * time.Millisecond)
			rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
			res, err := c.Stop()
			if err = errors.Join(loadErr, err); err != nil {
				return RunResult{}, err
			}
			wire := rx1 - rx0 + tx1 - tx0
			return RunResult{
				Packets: int(res.Packets), Elapsed: res.CPU, Drops: res.Drops,
				Note: fmt.Sprintf("%d packets on the wire at %.0f pkt/s; ns_per_packet is CPU time per captured packet", wire, float64(wire)/el.Seconds()),
			}, nil
		},
	}
}

// threadCPU is the calling OS thread's user+system time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ThreadLoop runs loop on a goroutine locked to its OS thread and returns
// a channel that delivers the thread's CPU time over the loop and its
// error when it ends. The capturers read packets this way, so their CPU
// time is that of the reading thread alone.
func ThreadLoop(loop func() error) <-chan ThreadResult {
	ch := make(chan ThreadResult, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0 := threadCPU()
		err := loop()
		ch <- ThreadResult{CPU: threadCPU() - c0, Err: err}
	}()
	return ch
}

// ThreadResult is a ThreadLoop's outcome.
type ThreadResult struct {
	CPU time.Duration
	Err error
}

// ringCapturer is netblame's ring, one worker, in this process: a
// TPACKET_V3 ring, or with xdp an AF_XDP socket fed by the XDP program of
// the filter "udp port 5002" in native mode, which takes the rate case's
// datagrams from the host stack (so it cannot carry the TCP load).
type ringCapturer struct {
	xdp  bool
	c    *ring.Capture
	prog *filter.XDP
	done <-chan ThreadResult
	n    uint64
}

func (r *ringCapturer) Start(lab *CaptureLab) error {
	cfg := ring.Config{Interface: lab.Pair.IfB, Snaplen: CaptureSnaplen, BlockSize: CaptureBlockSize, NumBlocks: CaptureNumBlocks, Workers: 1}
	if r.xdp {
		insns, err := filter.Compile(fmt.Sprintf("udp port %d", captureUDPPort), linktype.Ethernet, CaptureSnaplen)
		if err != nil {
			return err
		}
		cfg.BlockSize, cfg.NumBlocks = 0, 0
		cfg.XDP, cfg.Filter = ring.XDPNative, insns
		cfg.XDPProgram = func(insns []bpf.Instruction, queues int) (ring.XDPProgram, error) {
			x, err := filter.NewXDP(insns, queues, filter.XDPOptions{})
			if err == nil {
				r.prog = x
			}
			return x, err
		}
	}
	var err error
	// The kernel frees a closed AF_XDP socket's hold on the queue a moment
	// later: binding again at once finds it busy.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err = ringtest.InNS(lab.Pair.NSB, func() (err error) {
			r.c, err = ring.Open(cfg)
			return err
		})
		if !r.xdp || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			break
		}
		r.closeProgram()
	}
	if err != nil {
		r.closeProgram()
		return err
	}
	r.n = 0
	w := r.c.Workers()[0]
	r.done = ThreadLoop(func() error {
		var p ring.Packet
		for {
			err := w.Next(&p)
			switch {
			case err == nil:
				r.n++
			case errors.Is(err, ring.ErrTimeout):
			case errors.Is(err, ring.ErrStopped):
				return nil
			default:
				return err
			}
		}
	})
	return nil
}

func (r *ringCapturer) Stop() (CaptureResult, error) {
	r.c.Stop()
	tr := <-r.done
	st, err := r.c.Stats()
	r.c.Close()
	r.closeProgram()
	return CaptureResult{Packets: r.n, Drops: st.Total.Kernel.Drops, CPU: tr.CPU}, errors.Join(tr.Err, err)
}

func (r *ringCapturer) closeProgram() {
	if r.prog != nil {
		r.prog.Close()
		r.prog = nil
	}
}

// tcpdumpCapturer runs tcpdump in the namespace, writing to /dev/null,
// with the same snap length and buffer.
type tcpdumpCapturer struct {
	path string
	proc *ringtest.Proc
}

var (
	tdDropsRE    = regexp.MustCompile(`(\d+) packets? dropped by kernel`)
	tdCapturedRE = regexp.MustCompile(`(\d+) packets? captured`)
)

func (t *tcpdumpCapturer) Start(lab *CaptureLab) error {
	var err error
	t.proc, err = ringtest.StartInNS(lab.Pair.NSB, "listening on", t.path, "-i", lab.Pair.IfB, "-n", "-s", strconv.Itoa(CaptureSnaplen),
		"-B", strconv.Itoa(CaptureRingBytes>>10), "-w", os.DevNull)
	return err
}

func (t *tcpdumpCapturer) Stop() (CaptureResult, error) {
	out, err := t.proc.Stop()
	if err != nil {
		return CaptureResult{}, fmt.Errorf("tcpdump: %v: %s", err, out)
	}
	var r CaptureResult
	m, c := tdDropsRE.FindStringSubmatch(out), tdCapturedRE.FindStringSubmatch(out)
	if m == nil || c == nil {
		return r, fmt.Errorf("tcpdump: no packet counts in %q", out)
	}
	r.Drops, _ = strconv.ParseUint(m[1], 10, 64)
	r.Packets, _ = strconv.ParseUint(c[1], 10, 64)
	if ru, ok := t.proc.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

func captureSuite() Suite {
	return Suite{
		Name:     "capture",
		Doc:      "live capture of a real TCP bulk load over a veth pair in namespaces of its own, snaplen 128 and a 4 MiB ring each (netblame ring vs tcpdump vs gopacket afpacket TPACKET_V3; the rate search also with netblame's AF_XDP socket, native XDP): drops and CPU per packet; root only",
		LibPeers: []string{"gopacket-afpacket"},
		Cases: func(e *Env) ([]Case, error) {
			lab, err := e.CaptureLab()
			if err != nil {
				return []Case{{Impl: "netblame", Case: "tcp-bulk", Skip: err.Error()}}, nil
			}
			step := time.Second
			if e.Quick {
				step = 250 * time.Millisecond
			}
			cases := []Case{lab.Case("netblame", &ringCapturer{}), lab.RateCase("netblame", &ringCapturer{}, step)}
			xdp := lab.RateCase("netblame-xdp", &ringCapturer{xdp: true}, step)
			if err := probeXDP(lab); err != nil {
				xdp = Case{Impl: "netblame-xdp", Case: xdp.Case, Skip: "AF_XDP: " + err.Error()}
			}
			cases = append(cases, xdp)
			if path, err := exec.LookPath("tcpdump"); err != nil {
				cases = append(cases, Case{Impl: "tcpdump", Case: "tcp-bulk", Skip: "tcpdump is not installed"})
			} else {
				c := lab.Case("tcpdump", &tcpdumpCapturer{path: path})
				c.External = true
				r := lab.RateCase("tcpdump", &tcpdumpCapturer{path: path}, step)
				r.External = true
				cases = append(cases, c, r)
			}
			return cases, nil
		},
	}
}

// zeroDropRates are the offered loads of the rate search, in packets per
// second of 64-byte UDP datagrams.
var zeroDropRates = []float64{50e3, 100e3, 200e3, 300e3, 450e3, 650e3, 900e3, 1.3e6}

// RateCase searches the highest rate of small UDP datagrams (64 flows'
// worth of one sender) that c captures with 0 kernel drops: rates go up
// until the kernel drops or the sender falls short of 95% of the rate
// (then the figure is a lower bound: the machine's, not the capture's).
// ns_per_packet is c's CPU time per packet at that rate; rate_pps the
// rate.
func (lab *CaptureLab) RateCase(impl string, c Capturer, step time.Duration) Case {
	return Case{
		Impl: impl, Case: "udp64-max-rate-0-drops", Packets: 1, Runs: 1,
		Measured: func() (RunResult, error) {
			var best RunResult
			limit := "the kernel dropped at no rate offered"
			for _, rate := range zeroDropRates {
				if err := c.Start(lab); err != nil {
					return RunResult{}, err
				}
				sent, el, sendErr := paceUDP(lab, rate, step)
				time.Sleep(50 * time.Millisecond)
				res, err := c.Stop()
				if err = errors.Join(sendErr, err); err != nil {
					return RunResult{}, err
				}
				achieved := float64(sent) / el.Seconds()
				if res.Drops > 0 {
					limit = fmt.Sprintf("%d drops at %.0f pkt/s", res.Drops, achieved)
					break
				}
				best = RunResult{Packets: int(res.Packets), Elapsed: res.CPU, Rate: achieved}
				if achieved < 0.95*rate {
					limit = fmt.Sprintf("the sender: %.0f of %.0f pkt/s offered, no drops (a lower bound)", achieved, rate)
					break
				}
			}
			best.Note = "stopped by " + limit + "; ns_per_packet is CPU time per captured packet at the highest rate"
			return best, nil
		},
	}
}

// paceUDP sends 64-byte datagrams from A to B at rate per second for d
// (a socket in B absorbs them) and returns how many it sent and in what
// time.
func paceUDP(lab *CaptureLab, rate float64, d time.Duration) (int, time.Duration, error) {
	p := lab.Pair
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB, captureUDPPort))
	var sink, c *net.UDPConn
	if err := ringtest.InNS(p.NSB, func() (err error) { sink, err = net.ListenUDP("udp4", to); return err }); err != nil {
		return 0, 0, err
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	if err := ringtest.InNS(p.NSA, func() (err error) { c, err = net.DialUDP("udp4", nil, to); return err }); err != nil {
		return 0, 0, err
	}
	defer c.Close()
	// sendmmsg, 32 datagrams a call: one write(2) a datagram tops out
	// near 150k pkt/s on a 2-vCPU VM, below what the captures take.
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 32)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 64)}
	}
	start := time.Now()
	sent := 0
	for {
		el := time.Since(start)
		if el >= d {
			return sent, el, nil
		}
		if ahead := time.Duration(float64(sent)/rate*1e9) - el; ahead > 0 {
			time.Sleep(ahead)
			continue
		}
		n, err := pc.WriteBatch(msgs, 0)
		if err != nil {
			// A refused write (ICMP) does not stop the load.
			n = max(n, 1)
		}
		sent += n
	}
}
