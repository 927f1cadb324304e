package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/live"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// captureOpts are the flags of `netblame capture`.
type captureOpts struct {
	iface        string
	filter       string
	snaplen      uint32
	count        uint64
	duration     time.Duration
	workers      int
	fanout       string
	direction    string
	write        string
	rotateSize   string
	rotateTime   time.Duration
	analyze      bool
	statsEvery   time.Duration
	summaryEvery time.Duration
	noEBPF       bool
	promisc      bool
	blockSize    int
	blocks       int
	quiet        bool
	xdp          bool
	xdpMode      string
}

func newCaptureCmd() *cobra.Command {
	var capOpts captureOpts
	captureCmd := &cobra.Command{
		Use:   "capture -i IFACE [-f EXPR] [-w FILE] [-c N] [--duration D] [--workers N]",
		Short: "Capture live from an interface (AF_PACKET ring, eBPF prefilter), write pcap/pcapng, analyse live",
		Long: `Capture packets from a network interface through AF_PACKET TPACKET_V3
rings, filtered in the kernel by a tcpdump-style expression (compiled to
eBPF, or classic BPF when eBPF cannot be loaded).

With -w the packets go to a pcap or pcapng file (chosen by the extension;
a further .zst or .gz compresses), rotated into numbered files by
--rotate-size or --rotate-time. With --analyze every worker feeds its own
flow table and TCP events are printed as they happen, with a flow summary
every --summary-interval. Without -w or --analyze, one line is printed per
packet.

SIGINT or SIGTERM stop the capture cleanly: files are flushed and closed,
and the statistics (captured, kernel drops, filter counters, per worker)
are printed on stderr. Needs CAP_NET_RAW, and CAP_BPF for the eBPF filter.

With --xdp the filter runs as an XDP program in the driver (--xdp-mode
native, the default) or on the socket buffer (--xdp-mode skb), and the
packets it accepts go to one AF_XDP socket per RX queue (--workers: how
many queues, default all). Those packets are taken from the host: the
host stack no longer sees them (the rest passes untouched). Use it on a
port that only watches traffic (SPAN, mirror, tap). It sees received
packets only; needs CAP_NET_ADMIN and CAP_BPF, kernel 5.18 or later.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCapture(cmd, capOpts)
		},
	}
	f := captureCmd.Flags()
	f.StringVarP(&capOpts.iface, "interface", "i", "", "interface to capture on (required)")
	f.StringVarP(&capOpts.filter, "filter", "f", "", "capture filter, tcpdump syntax")
	f.Uint32VarP(&capOpts.snaplen, "snaplen", "s", ring.DefaultSnaplen, "bytes kept of each packet")
	f.Uint64VarP(&capOpts.count, "count", "c", 0, "stop after this many packets (0: no limit)")
	f.DurationVar(&capOpts.duration, "duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	f.IntVar(&capOpts.workers, "workers", 0, "fanout workers, each with its own socket, ring and (with --analyze) flow table (default: the number of cores with --analyze, else 1)")
	f.StringVar(&capOpts.fanout, "fanout", "hash", "how packets are spread over workers: hash, hash+rollover, rollover, cpu")
	f.StringVarP(&capOpts.direction, "direction", "Q", "auto", "packets kept by direction: auto (both, each once: on loopback the sent copy is left out), inout, in, out")
	f.StringVarP(&capOpts.write, "write", "w", "", "write packets to FILE (.pcap or .pcapng, optionally .zst/.gz)")
	f.StringVar(&capOpts.rotateSize, "rotate-size", "", "start a new numbered file after this many bytes (e.g. 100MB)")
	f.DurationVar(&capOpts.rotateTime, "rotate-time", 0, "start a new numbered file after this long (packet time)")
	f.BoolVar(&capOpts.analyze, "analyze", false, "run the flow table and TCP analysis live")
	f.DurationVar(&capOpts.statsEvery, "stats-interval", 0, "print kernel statistics on stderr this often (0: only at the end)")
	f.DurationVar(&capOpts.summaryEvery, "summary-interval", 10*time.Second, "with --analyze, print a flow summary this often")
	f.BoolVar(&capOpts.noEBPF, "no-ebpf", false, "attach the classic BPF program instead of eBPF")
	f.BoolVarP(&capOpts.promisc, "promiscuous", "p", false, "put the interface in promiscuous mode")
	f.IntVar(&capOpts.blockSize, "block-size", 0, fmt.Sprintf("ring block size in bytes (default %d)", ring.DefaultBlockSize))
	f.IntVar(&capOpts.blocks, "blocks", 0, fmt.Sprintf("ring blocks per worker (default %d)", ring.DefaultNumBlocks))
	f.BoolVarP(&capOpts.quiet, "quiet", "q", false, "do not print a line per packet when neither -w nor --analyze is given")
	f.BoolVar(&capOpts.xdp, "xdp", false, "capture through AF_XDP sockets fed by an XDP program (accepted packets are taken from the host stack)")
	f.StringVar(&capOpts.xdpMode, "xdp-mode", "native", "with --xdp: native (in the driver) or skb (generic)")
	return captureCmd
}

func runCapture(cmd *cobra.Command, o captureOpts) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.iface == "" {
		return inputErr(errors.New("capture: -i IFACE is required"))
	}
	if o.snaplen == 0 {
		return inputErr(errors.New("capture: -s must be at least 1"))
	}
	rotBytes, err := parseSize(o.rotateSize)
	if err != nil {
		return inputErr(fmt.Errorf("capture: --rotate-size: %w", err))
	}
	if (rotBytes > 0 || o.rotateTime > 0) && o.write == "" {
		return inputErr(errors.New("capture: --rotate-size and --rotate-time need -w FILE"))
	}
	mode, err := ring.ParseFanoutMode(o.fanout)
	if err != nil {
		return inputErr(err)
	}
	dir, err := ring.ParseDirection(o.direction)
	if err != nil {
		return inputErr(err)
	}
	if o.workers < 0 {
		return inputErr(errors.New("capture: --workers must be at least 1"))
	}
	xdpMode := ring.XDPOff
	if o.xdp {
		if xdpMode, err = ring.ParseXDPMode(o.xdpMode); err != nil || xdpMode == ring.XDPOff {
			return inputErr(fmt.Errorf("capture: --xdp-mode %q: want native or skb", o.xdpMode))
		}
		if o.noEBPF || o.promisc || o.blockSize != 0 || o.blocks != 0 || o.fanout != "hash" {
			return inputErr(errors.New("capture: --no-ebpf, -p, --block-size, --blocks and --fanout do not apply to --xdp"))
		}
	} else if cmd.Flags().Changed("xdp-mode") {
		return inputErr(errors.New("capture: --xdp-mode needs --xdp"))
	}
	if o.workers == 0 && !o.xdp {
		// Live analysis scales with the cores (a flow table per worker);
		// a plain capture keeps one ring, so a file stays in time order.
		o.workers = 1
		if o.analyze {
			o.workers = runtime.NumCPU()
		}
	}
	s, err := live.Open(live.Config{
		Ring: ring.Config{
			Interface: o.iface, Snaplen: o.snaplen, Workers: o.workers, Fanout: mode,
			Promiscuous: o.promisc, BlockSize: o.blockSize, NumBlocks: o.blocks, Direction: dir,
			XDP: xdpMode,
		},
		Filter: o.filter, NoEBPF: o.noEBPF, Count: o.count, Duration: o.duration,
		Write: o.write, Rotation: capfile.Rotation{MaxBytes: rotBytes, Every: o.rotateTime},
		Analyze: o.analyze, StatsEvery: o.statsEvery, SummaryEvery: o.summaryEvery,
	})
	if err != nil {
		var fe *live.FilterError
		if errors.As(err, &fe) {
			return inputErr(fmt.Errorf("capture: %w", err))
		}
		return fmt.Errorf("capture: %w", err)
	}
	defer s.Close()
	c := s.Capture()
	if n := c.FilterNotice(); n != "" {
		fmt.Fprintln(stderr, "netblame: notice:", n)
	}

	pr := &capturePrinter{stdout: stdout, stderr: stderr, link: c.Link()}
	hooks := live.Hooks{Stats: pr.stats}
	if o.analyze {
		hooks.Event, hooks.Summary = pr.event, pr.summary
		// Events are buffered (a write per event cost a system call under
		// the printer's lock, shared by the workers) and flushed often
		// enough to read as they happen.
		pr.events = bufio.NewWriterSize(stdout, 64<<10)
		stopFlush := make(chan struct{})
		flushed := make(chan struct{})
		go func() {
			defer close(flushed)
			t := time.NewTicker(eventFlushEvery)
			defer t.Stop()
			for {
				select {
				case <-stopFlush:
					return
				case <-t.C:
					pr.mu.Lock()
					pr.events.Flush()
					pr.mu.Unlock()
				}
			}
		}()
		defer func() { close(stopFlush); <-flushed }()
	} else if o.write == "" && !o.quiet {
		pr.lines = bufio.NewWriter(stdout)
		pr.decoded = make([]decode.Packet, len(c.Workers()))
		hooks.Packet = pr.packet
	}

	ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	what := "no filter"
	if o.filter != "" {
		what = fmt.Sprintf("%s filter %q", c.FilterKind(), o.filter)
	}
	if c.Loopback() && c.Direction() == ring.DirectionIn && dir == ring.DirectionAuto {
		what += ", loopback: sent copies left out"
	} else if c.Direction() != ring.DirectionInOut {
		what += ", direction " + c.Direction().String()
	}
	if c.XDP() {
		mode := "zero-copy"
		if c.XDPCopyMode() {
			mode = "copy mode"
		}
		fmt.Fprintf(stderr, "netblame: capturing on %s with AF_XDP (%s XDP, %s), %s, snaplen %d, %d queue(s); accepted packets do not reach the host stack\n",
			o.iface, xdpMode, mode, what, o.snaplen, len(c.Workers()))
	} else {
		fmt.Fprintf(stderr, "netblame: capturing on %s, %s, snaplen %d, %d worker(s), ring %d KiB each\n",
			o.iface, what, o.snaplen, len(c.Workers()), c.Config().RingBytes()>>10)
	}

	rep, err := s.Run(ctx, hooks)
	if pr.lines != nil {
		pr.lines.Flush()
	}
	if pr.events != nil {
		pr.mu.Lock()
		pr.events.Flush()
		pr.mu.Unlock()
	}
	if rep.Flows != nil {
		pr.summary(*rep.Flows)
		pr.largest(rep.Largest)
	}
	pr.final(rep)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// eventFlushEvery is how long an event line may wait in the buffer.
const eventFlushEvery = 200 * time.Millisecond

// capturePrinter formats what a live session reports: stdout gets the
// packet lines, events and summaries, stderr the statistics.
type capturePrinter struct {
	stdout, stderr io.Writer
	link           linktype.Type

	mu      sync.Mutex    // stdout's lines come from every worker
	lines   *bufio.Writer // one line a packet, when nothing else is asked for
	events  *bufio.Writer // event lines, with --analyze; flushed every eventFlushEvery
	decoded []decode.Packet
	buf     []byte // the line being built, under mu
}

// stats prints the periodic kernel statistics.
func (pr *capturePrinter) stats(s ring.Stats) {
	k := s.Total.Kernel
	fmt.Fprintf(pr.stderr, "netblame: %d packets captured, kernel: %d accepted, %d dropped, %d queue freezes\n",
		s.Total.Delivered, k.Packets, k.Drops, k.QueueFreezes)
}

// final writes the end-of-capture statistics on stderr.
func (pr *capturePrinter) final(rep *live.Report) {
	w := pr.stderr
	if rep.RingErr != nil {
		fmt.Fprintln(w, "netblame: statistics:", rep.RingErr)
		return
	}
	s := rep.Ring
	k := s.Total.Kernel
	fmt.Fprintf(w, "netblame: %d packets captured in %v", rep.Captured, rep.Elapsed.Round(time.Millisecond))
	if rep.Files != nil {
		fmt.Fprintf(w, ", %d written to %d file(s)", rep.Written, len(rep.Files))
	}
	if extra := s.Total.Delivered - rep.Captured; extra > 0 {
		fmt.Fprintf(w, " (%d more read after the -c limit, discarded)", extra)
	}
	fmt.Fprintln(w)
	if rep.XDP {
		fmt.Fprintf(w, "netblame: kernel: %d dropped (AF_XDP: %d no frame or too long, %d RX ring full; fill ring found empty %d times, %d invalid descriptors); %d reader wake-ups\n",
			k.Drops, k.XDPRxDropped, k.XDPRxRingFull, k.XDPFillRingEmpty, k.XDPRxInvalid, k.XDPWaits)
	} else {
		fmt.Fprintf(w, "netblame: kernel: %d packets accepted by the filter, %d dropped, %d queue freezes\n", k.Packets, k.Drops, k.QueueFreezes)
	}
	if fc := rep.EBPF; fc != nil {
		what := "eBPF"
		if rep.XDP {
			what = "XDP"
		}
		fmt.Fprintf(w, "netblame: %s filter: %d seen, %d accepted, %d rejected\n", what, fc.Seen, fc.Accepted, fc.Rejected)
	}
	if len(s.Workers) > 1 {
		for _, ws := range s.Workers {
			fmt.Fprintf(w, "netblame: worker %d: %d captured, kernel %d accepted, %d dropped, %d queue freezes\n",
				ws.Worker, ws.Delivered, ws.Kernel.Packets, ws.Kernel.Drops, ws.Kernel.QueueFreezes)
		}
	}
	if len(rep.Files) > 1 {
		fmt.Fprintf(w, "netblame: files: %s\n", strings.Join(rep.Files, " "))
	}
}

// packet prints a one-line summary of a packet (only when no file and no
// analysis was asked for). The line is built in a buffer kept across
// packets: printing allocates nothing per packet.
func (pr *capturePrinter) packet(worker int, frame uint64, p *ring.Packet) {
	dp := &pr.decoded[worker]
	dp.Decode(p.Data, pr.link)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.buf = appendPacketLine(pr.buf[:0], dp, p.Timestamp, p.OrigLen, frame)
	pr.lines.Write(pr.buf)
}

// event prints a packet's TCP analysis events. Events are rare next to
// packets; formatting them may allocate.
func (pr *capturePrinter) event(_ int, tp *track.Packet) {
	res, dp, cp := &tp.Result, tp.Decoded, tp.Capture
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.buf = fmt.Appendf(pr.buf[:0], "event frame=%d time=%s %s:%d > %s:%d %s seq=%d ack=%d len=%d win=%d\n",
		cp.Frame, time.Unix(0, cp.Timestamp).UTC().Format("15:04:05.000000"), dp.Src(), dp.SrcPort, dp.Dst(), dp.DstPort,
		res.Events, res.RelSeq, res.RelAck, res.Len, res.Window)
	pr.events.Write(pr.buf)
}

// summary prints the flow tables' counters and the event counts so far.
func (pr *capturePrinter) summary(st flowtable.TableStats) {
	var ev []string
	for e, n := range st.Events {
		if n > 0 {
			ev = append(ev, fmt.Sprintf("%s=%d", flowtable.Event(e), n))
		}
	}
	if len(ev) == 0 {
		ev = []string{"none"}
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.events != nil {
		pr.events.Flush() // the events before the summary come first
	}
	fmt.Fprintf(pr.stdout, "summary packets=%d flows: live=%d created=%d (tcp %d, udp %d) expired=%d evicted=%d events: %s\n",
		st.Packets, st.Live, st.Created, st.TCPFlows, st.UDPFlows, st.Expired, st.Evicted, strings.Join(ev, " "))
}

// largest prints the largest flows of the capture.
func (pr *capturePrinter) largest(flows []flowtable.FlowRecord) {
	for _, f := range flows {
		fmt.Fprintf(pr.stdout, "flow %s > %s proto %d packets %d/%d bytes %d/%d duration %v rtt min %v retrans %d\n",
			f.Client, f.Server, f.Proto, f.Packets[0], f.Packets[1], f.Bytes[0], f.Bytes[1],
			f.Duration().Round(time.Microsecond), f.RTTMin, f.FilterCount(flowtable.Retransmission))
	}
}

// appendPacketLine appends the one-line summary of a decoded packet:
//
//	7 14:03:59.123456 TCP 10.0.0.1:40000 > 10.0.0.2:80 flags 0x018 seq 1 ack 2 win 502 len 100
//	8 14:03:59.123501 UDP [fd00::1]:5353 > [fd00::2]:53 len 31
func appendPacketLine(b []byte, dp *decode.Packet, ts int64, origLen int, frame uint64) []byte {
	b = strconv.AppendUint(b, frame, 10)
	b = append(b, ' ')
	b = time.Unix(0, ts).AppendFormat(b, "15:04:05.000000")
	switch {
	case dp.IsTCP(), dp.IsUDP():
		b = append(b, ' ')
		b = append(b, dp.Proto.String()...)
		b = append(b, ' ')
		b = netip.AddrPortFrom(dp.Src(), dp.SrcPort).AppendTo(b) // [v6]:port
		b = append(b, " > "...)
		b = netip.AddrPortFrom(dp.Dst(), dp.DstPort).AppendTo(b)
		if dp.IsTCP() {
			b = append(b, " flags 0x"...)
			b = appendHex(b, uint64(dp.TCPFlags), 3)
			b = append(b, " seq "...)
			b = strconv.AppendUint(b, uint64(dp.Seq), 10)
			b = append(b, " ack "...)
			b = strconv.AppendUint(b, uint64(dp.Ack), 10)
			b = append(b, " win "...)
			b = strconv.AppendUint(b, uint64(dp.Window), 10)
		}
		b = append(b, " len "...)
		b = strconv.AppendInt(b, int64(dp.PayloadLen), 10)
	case dp.IPVersion != 0:
		b = append(b, " IP proto "...)
		b = strconv.AppendUint(b, uint64(dp.Proto), 10)
		b = append(b, ' ')
		b = dp.Src().AppendTo(b)
		b = append(b, " > "...)
		b = dp.Dst().AppendTo(b)
		b = append(b, " len "...)
		b = strconv.AppendInt(b, int64(origLen), 10)
	default:
		b = append(b, " ethertype 0x"...)
		b = appendHex(b, uint64(dp.EtherType), 4)
		b = append(b, " len "...)
		b = strconv.AppendInt(b, int64(origLen), 10)
	}
	return append(b, '\n')
}

// parseSize reads "1500", "64k", "100MB", "2GiB" (powers of 1024 for KiB/MiB/GiB, of 1000 for k/MB/GB).
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]int64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1 << 10, "m": 1e6, "mb": 1e6, "mib": 1 << 20,
		"g": 1e9, "gb": 1e9, "gib": 1 << 30}[unit]
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || v <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 1000000, 100MB, 64MiB)", s)
	}
	return v * mult, nil
}
