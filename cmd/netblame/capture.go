package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/flowtable"
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
are printed on stderr. Needs CAP_NET_RAW, and CAP_BPF for the eBPF filter.`,
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
	f.IntVar(&capOpts.workers, "workers", 1, "fanout workers (sockets and rings)")
	f.StringVar(&capOpts.fanout, "fanout", "hash", "how packets are spread over workers: hash, hash+rollover, rollover, cpu")
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
	cfg := ring.Config{
		Interface: o.iface, Snaplen: o.snaplen, Workers: o.workers, Fanout: mode,
		Promiscuous: o.promisc, BlockSize: o.blockSize, NumBlocks: o.blocks,
		// Live analysis reassembles fragments as file analysis does; the
		// kernel puts them together first so a datagram reaches the
		// worker of its flow.
		FanoutDefrag: o.analyze && o.workers > 1,
	}
	// The filter is compiled for the interface's link type, which only an
	// open socket tells; Ethernet is what AF_PACKET shows nearly always, so
	// compile for it first and recompile if the interface says otherwise.
	var prog *filter.EBPF
	defer func() {
		if prog != nil {
			prog.Close()
		}
	}()
	if o.filter != "" {
		insns, err := filter.Compile(o.filter, decode.LinkEthernet, o.snaplen)
		if err != nil {
			return inputErr(fmt.Errorf("capture: %w", err))
		}
		cfg.Filter = insns
		if !o.noEBPF {
			cfg.EBPF = func(insns []bpf.Instruction) (ring.Program, error) {
				p, err := filter.NewEBPF(insns)
				if err != nil {
					return nil, err
				}
				if prog != nil { // loaded for an earlier link-type guess
					prog.Close()
				}
				prog = p
				return p, nil
			}
		}
	}
	c, err := ring.Open(cfg)
	if err == nil && o.filter != "" && c.Link() != decode.LinkEthernet {
		c.Close()
		if cfg.Filter, err = filter.Compile(o.filter, c.Link(), o.snaplen); err != nil {
			return inputErr(fmt.Errorf("capture: %w", err))
		}
		c, err = ring.Open(cfg)
	}
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer c.Close()
	if n := c.FilterNotice(); n != "" {
		fmt.Fprintln(stderr, "netblame: notice:", n)
	}

	run := &captureRun{opts: o, cap: c, link: c.Link(), stdout: stdout, stderr: stderr}
	if o.write != "" {
		run.out, err = capfile.NewRotatingWriter(o.write, c.Link(), int(o.snaplen),
			capfile.Rotation{MaxBytes: rotBytes, Every: o.rotateTime})
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	if o.analyze {
		if err := run.setupAnalysis(); err != nil {
			return err
		}
	}
	if o.write == "" && !o.analyze && !o.quiet {
		run.lines = bufio.NewWriter(stdout)
	}

	ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	what := "no filter"
	if o.filter != "" {
		what = fmt.Sprintf("%s filter %q", c.FilterKind(), o.filter)
	}
	fmt.Fprintf(stderr, "netblame: capturing on %s, %s, snaplen %d, %d worker(s), ring %d KiB each\n",
		o.iface, what, o.snaplen, len(c.Workers()), c.Config().RingBytes()>>10)

	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range c.Workers() {
		wg.Add(1)
		go func(r *ring.Ring) {
			defer wg.Done()
			run.worker(r)
		}(r)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	run.supervise(ctx, done)

	// Every worker has returned: nothing touches the ring or the files now.
	var errs []error
	if run.out != nil {
		if err := run.out.Close(); err != nil {
			errs = append(errs, fmt.Errorf("capture: closing %s: %w", run.out.Current(), err))
		}
	}
	if run.lines != nil {
		run.lines.Flush()
	}
	if o.analyze {
		run.finishAnalysis()
	}
	run.printStats(time.Since(start), prog)
	if e := run.workerErr.Load(); e != nil {
		errs = append(errs, *e)
	}
	return errors.Join(errs...)
}

// captureRun is the state shared by the workers of one capture.
type captureRun struct {
	opts   captureOpts
	cap    *ring.Capture
	link   decode.LinkType
	stdout io.Writer
	stderr io.Writer

	out       *capfile.RotatingWriter // nil without -w
	taken     atomic.Uint64           // packets counted against -c
	keptMu    sync.Mutex
	kept      uint64        // packets written, analysed or printed (summed as workers end)
	frames    atomic.Uint64 // frame numbers when nothing is written
	workerErr atomic.Pointer[error]

	linesMu sync.Mutex
	lines   *bufio.Writer // one line a packet, when nothing else is asked for
	lineBuf []byte        // printLine's line, under linesMu

	analysis *liveAnalysis
}

// worker reads one ring until the capture stops.
func (run *captureRun) worker(r *ring.Ring) {
	var p ring.Packet
	var an *workerAnalysis
	if run.analysis != nil {
		an = run.analysis.workers[r.ID()]
	}
	var dp decode.Packet
	limit := run.opts.count
	var kept uint64 // plain per-worker count: no shared cache line per packet
	defer func() {
		run.keptMu.Lock()
		run.kept += kept
		run.keptMu.Unlock()
	}()
	for {
		err := r.Next(&p)
		if err == ring.ErrTimeout {
			continue
		}
		if err != nil {
			if err != ring.ErrStopped {
				run.fail(err)
			}
			return
		}
		if limit > 0 {
			n := run.taken.Add(1)
			if n >= limit {
				run.cap.Stop()
			}
			if n > limit {
				continue // read on until the stop drains, keep nothing
			}
		}
		kept++
		var frame uint64
		if run.out != nil {
			frame, err = run.out.WritePacket(p.Timestamp, p.Data, p.OrigLen)
			if err != nil {
				run.fail(err)
				return
			}
		} else {
			frame = run.frames.Add(1)
		}
		if an != nil {
			an.packet(&p, frame)
		} else if run.lines != nil {
			run.printLine(&dp, &p, frame)
		}
	}
}

// fail records a worker's error and stops the capture. (Kept out of the
// loop: taking the address of the loop's err would move it to the heap,
// one allocation per packet.)
func (run *captureRun) fail(err error) {
	run.workerErr.CompareAndSwap(nil, &err)
	run.cap.Stop()
}

// supervise waits for the end (signal, duration, count, error) and prints
// periodic statistics and summaries.
func (run *captureRun) supervise(ctx context.Context, done <-chan struct{}) {
	var deadline <-chan time.Time
	if run.opts.duration > 0 {
		t := time.NewTimer(run.opts.duration)
		defer t.Stop()
		deadline = t.C
	}
	var statsTick, sumTick <-chan time.Time
	// The kernel's counters are 32-bit and reset when read: read them at
	// least every 10s so they cannot wrap, printing only when asked to.
	every, quiet := run.opts.statsEvery, false
	if every <= 0 {
		every, quiet = 10*time.Second, true
	}
	st := time.NewTicker(every)
	defer st.Stop()
	statsTick = st.C
	if run.analysis != nil && run.opts.summaryEvery > 0 {
		t := time.NewTicker(run.opts.summaryEvery)
		defer t.Stop()
		sumTick = t.C
	}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			run.cap.Stop()
			ctx = context.Background() // a second signal is not waited for
		case <-deadline:
			run.cap.Stop()
		case <-statsTick:
			if s, err := run.cap.Stats(); err == nil && !quiet {
				k := s.Total.Kernel
				fmt.Fprintf(run.stderr, "netblame: %d packets captured, kernel: %d accepted, %d dropped, %d queue freezes\n",
					s.Total.Delivered, k.Packets, k.Drops, k.QueueFreezes)
			}
		case <-sumTick:
			run.analysis.summary(run.stdout)
		}
	}
}

// printStats writes the end-of-capture statistics on stderr.
func (run *captureRun) printStats(elapsed time.Duration, prog *filter.EBPF) {
	s, err := run.cap.Stats()
	if err != nil {
		fmt.Fprintln(run.stderr, "netblame: statistics:", err)
		return
	}
	w := run.stderr
	written, files := uint64(0), []string(nil)
	if run.out != nil {
		written, files = run.out.Packets(), run.out.Files()
	}
	k := s.Total.Kernel
	kept := run.kept
	fmt.Fprintf(w, "netblame: %d packets captured in %v", kept, elapsed.Round(time.Millisecond))
	if run.out != nil {
		fmt.Fprintf(w, ", %d written to %d file(s)", written, len(files))
	}
	if extra := s.Total.Delivered - kept; extra > 0 {
		fmt.Fprintf(w, " (%d more read after the -c limit, discarded)", extra)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "netblame: kernel: %d packets accepted by the filter, %d dropped, %d queue freezes\n", k.Packets, k.Drops, k.QueueFreezes)
	if prog != nil && run.cap.FilterKind() == "ebpf" {
		if fc, err := prog.Counters(); err == nil {
			fmt.Fprintf(w, "netblame: eBPF filter: %d seen, %d accepted, %d rejected\n", fc.Seen, fc.Accepted, fc.Rejected)
		}
	}
	if len(s.Workers) > 1 {
		for _, ws := range s.Workers {
			fmt.Fprintf(w, "netblame: worker %d: %d captured, kernel %d accepted, %d dropped, %d queue freezes\n",
				ws.Worker, ws.Delivered, ws.Kernel.Packets, ws.Kernel.Drops, ws.Kernel.QueueFreezes)
		}
	}
	if len(files) > 1 {
		fmt.Fprintf(w, "netblame: files: %s\n", strings.Join(files, " "))
	}
}

// printLine prints a one-line summary of a packet (only when no file and
// no analysis was asked for). The line is built in a buffer kept across
// packets: printing allocates nothing per packet.
func (run *captureRun) printLine(dp *decode.Packet, p *ring.Packet, frame uint64) {
	dp.Decode(p.Data, run.link)
	run.linesMu.Lock()
	defer run.linesMu.Unlock()
	run.lineBuf = appendPacketLine(run.lineBuf[:0], dp, p.Timestamp, p.OrigLen, frame)
	run.lines.Write(run.lineBuf)
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

// liveAnalysis runs flow tables while capturing. With hash fanout each
// worker has its own table (the kernel keeps a flow on one worker, so the
// tables never share a flow and their locks are never contended); with the
// other fanout modes a flow can reach two workers, so they share one.
type liveAnalysis struct {
	tables  []*flowtable.Table
	workers []*workerAnalysis
	top     *flowtable.Largest // the largest flows that ended
	out     io.Writer
	outMu   sync.Mutex
}

// workerAnalysis is one worker's share: its path to the table.
type workerAnalysis struct {
	run   *captureRun
	track *track.Tracker
	cp    capfile.Packet
	line  []byte // reused for event lines
}

func (run *captureRun) setupAnalysis() error {
	la := &liveAnalysis{out: run.stdout, top: flowtable.NewLargest(10)}
	n := len(run.cap.Workers())
	shared := run.cap.Config().Fanout != ring.FanoutHash && n > 1
	cfg := flowtable.Config{OnExpire: la.top.Add}
	for i := 0; i < n; i++ {
		if i == 0 || !shared {
			t, err := flowtable.New(cfg)
			if err != nil {
				return fmt.Errorf("capture: flow table: %w", err)
			}
			la.tables = append(la.tables, t)
		}
		// The table is shared with the summary, which expires and reads
		// it: updates take its shard locks.
		tr, err := track.New(track.Options{Table: la.tables[len(la.tables)-1]})
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		la.workers = append(la.workers, &workerAnalysis{run: run, track: tr, line: make([]byte, 0, 256)})
	}
	run.analysis = la
	return nil
}

// packet runs one packet through the path (decode, defrag, table) and
// prints its events.
func (w *workerAnalysis) packet(p *ring.Packet, frame uint64) {
	w.cp = capfile.Packet{Frame: frame, Timestamp: p.Timestamp, Data: p.Data, OrigLen: p.OrigLen, Link: w.run.link}
	tp := w.track.Feed(&w.cp)
	if tp == nil || tp.Result.Events == 0 {
		return
	}
	res, dp := &tp.Result, tp.Decoded
	// Events are rare next to packets; formatting them may allocate.
	la := w.run.analysis
	b := w.line[:0]
	b = fmt.Appendf(b, "event frame=%d time=%s %s:%d > %s:%d %s seq=%d ack=%d len=%d win=%d\n",
		frame, time.Unix(0, p.Timestamp).UTC().Format("15:04:05.000000"), dp.Src(), dp.SrcPort, dp.Dst(), dp.DstPort,
		res.Events, res.RelSeq, res.RelAck, res.Len, res.Window)
	w.line = b
	la.outMu.Lock()
	la.out.Write(b)
	la.outMu.Unlock()
}

// summary prints the tables' counters and the event counts so far, and
// expires idle flows (packet time may stand still when traffic stops).
func (la *liveAnalysis) summary(w io.Writer) {
	var st flowtable.TableStats
	now := time.Now().UnixNano()
	for _, t := range la.tables {
		t.Expire(now)
		s := t.Stats()
		st.Add(&s)
	}
	var ev []string
	for e, n := range st.Events {
		if n > 0 {
			ev = append(ev, fmt.Sprintf("%s=%d", flowtable.Event(e), n))
		}
	}
	if len(ev) == 0 {
		ev = []string{"none"}
	}
	la.outMu.Lock()
	defer la.outMu.Unlock()
	fmt.Fprintf(w, "summary packets=%d flows: live=%d created=%d (tcp %d, udp %d) expired=%d evicted=%d events: %s\n",
		st.Packets, st.Live, st.Created, st.TCPFlows, st.UDPFlows, st.Expired, st.Evicted, strings.Join(ev, " "))
}

// finishAnalysis prints a last summary and the largest flows.
func (run *captureRun) finishAnalysis() {
	la := run.analysis
	la.summary(run.stdout)
	for _, t := range la.tables {
		t.Flush()
	}
	for _, f := range la.top.Flows() {
		fmt.Fprintf(run.stdout, "flow %s > %s proto %d packets %d/%d bytes %d/%d duration %v rtt min %v retrans %d\n",
			f.Client, f.Server, f.Proto, f.Packets[0], f.Packets[1], f.Bytes[0], f.Bytes[1],
			f.Duration().Round(time.Microsecond), f.RTTMin, f.FilterCount(flowtable.Retransmission))
	}
}
