package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/internal/ringtest"
)

// openIn opens a capture inside namespace ns (the socket must be created
// there); reading it works from any goroutine.
func openIn(t *testing.T, ns string, cfg Config) *Capture {
	t.Helper()
	var c *Capture
	err := ringtest.InNS(ns, func() (err error) {
		c, err = Open(cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seen is what a test keeps of one captured packet.
type seen struct {
	worker   int
	outgoing bool
	key      pktKey
	caplen   int
	origLen  int
	vlan     uint16
	hasVLAN  bool
	data     []byte // first bytes, copied
}

// pktKey identifies a packet of the test traffic: addresses, ports, IP ID
// and, for TCP, sequence and flags (a retransmission repeats the IP ID
// only if the stack reuses it, which Linux does not).
type pktKey struct {
	src, dst     [4]byte
	proto        uint8
	sport, dport uint16
	ipid         uint16
	seq          uint32
	flags        uint8
}

// parseKey reads the IPv4 fields of an Ethernet frame (with at most one
// VLAN tag); ok is false for anything else.
func parseKey(b []byte) (k pktKey, ok bool) {
	if len(b) < 14 {
		return k, false
	}
	et, off := binary.BigEndian.Uint16(b[12:]), 14
	if et == 0x8100 && len(b) >= 18 {
		et, off = binary.BigEndian.Uint16(b[16:]), 18
	}
	if et != 0x0800 || len(b) < off+20 {
		return k, false
	}
	ip := b[off:]
	ihl := int(ip[0]&0xf) * 4
	copy(k.src[:], ip[12:16])
	copy(k.dst[:], ip[16:20])
	k.proto = ip[9]
	k.ipid = binary.BigEndian.Uint16(ip[4:])
	if len(ip) >= ihl+4 && (k.proto == 6 || k.proto == 17) {
		k.sport = binary.BigEndian.Uint16(ip[ihl:])
		k.dport = binary.BigEndian.Uint16(ip[ihl+2:])
	}
	if k.proto == 6 && len(ip) >= ihl+14 {
		k.seq = binary.BigEndian.Uint32(ip[ihl+4:])
		k.flags = ip[ihl+13]
	}
	return k, true
}

// collect reads every worker of c in the background. finish stops the
// capture, waits for the readers and returns what they saw, failing t if
// a reader failed.
func collect(t testing.TB, c *Capture) (finish func() []seen) {
	var mu sync.Mutex
	var all []seen
	var firstErr error
	var wg sync.WaitGroup
	for _, r := range c.Workers() {
		wg.Add(1)
		go func(r *Ring) {
			defer wg.Done()
			var p Packet
			for {
				err := r.Next(&p)
				if errors.Is(err, ErrTimeout) {
					continue
				}
				if err != nil {
					if !errors.Is(err, ErrStopped) {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					return
				}
				s := seen{worker: r.ID(), outgoing: p.Outgoing(), caplen: len(p.Data), origLen: p.OrigLen,
					vlan: p.VLANID(), hasVLAN: p.HasVLAN}
				s.key, _ = parseKey(p.Data)
				n := min(len(p.Data), 64)
				s.data = append([]byte(nil), p.Data[:n]...)
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
			}
		}(r)
	}
	return func() []seen {
		t.Helper()
		c.Stop()
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		return all
	}
}

// TestCaptureEqualsInterfaceCounters: every packet the interface received
// and sent while the capture ran is captured, none twice, none dropped.
func TestCaptureEqualsInterfaceCounters(t *testing.T) {
	p := ringtest.ForTest(t)
	// A ring that holds the whole test traffic (16 MiB), so a reader the
	// machine's load stalls (or -race slows) cannot make the kernel drop.
	c := openIn(t, p.NSB, Config{Interface: p.IfB, Snaplen: 256, NumBlocks: 64})
	finish := collect(t, c)
	rx0, tx0, err := ringtest.Counters(p.NSB, p.IfB)
	if err != nil {
		t.Fatal(err)
	}
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 3<<20); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 2000, 200, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	rx1, tx1, err := ringtest.Counters(p.NSB, p.IfB)
	if err != nil {
		t.Fatal(err)
	}
	got := finish()
	var in, out uint64
	dup := map[pktKey]int{}
	for _, s := range got {
		if s.outgoing {
			out++
		} else {
			in++
		}
		dup[s.key]++
		if s.caplen > 256 {
			t.Fatalf("captured %d bytes, snaplen 256", s.caplen)
		}
	}
	for k, n := range dup {
		if n > 1 {
			t.Errorf("packet %+v captured %d times", k, n)
		}
	}
	st, _ := c.Stats()
	t.Logf("rx %d tx %d; captured in %d out %d; kernel %+v", rx1-rx0, tx1-tx0, in, out, st.Total.Kernel)
	if in != rx1-rx0 || out != tx1-tx0 {
		t.Errorf("captured %d received + %d sent packets; interface counted rx %d, tx %d", in, out, rx1-rx0, tx1-tx0)
	}
	if st.Total.Kernel.Drops != 0 {
		t.Errorf("kernel dropped %d packets", st.Total.Kernel.Drops)
	}
	if st.Total.Delivered != uint64(len(got)) || st.Total.Kernel.Packets != uint64(len(got)) {
		t.Errorf("stats: delivered %d, kernel accepted %d; test read %d", st.Total.Delivered, st.Total.Kernel.Packets, len(got))
	}
}

// udpPortFilter is a hand-assembled classic program: IPv4 UDP with
// destination port port, returning snaplen. (filter compiles such
// programs from expressions; this test does not depend on it.)
func udpPortFilter(port uint16, snaplen uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 8},
		bpf.LoadAbsolute{Off: 23, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 20, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 16, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1},
		bpf.RetConstant{Val: snaplen},
		bpf.RetConstant{Val: 0},
	}
}

// TestFilterKeepsExactlyWhatItNames: with a filter for one UDP port, every
// packet to that port is captured and nothing else, including packets that
// were already flowing when the socket was bound (the attach race).
func TestFilterKeepsExactlyWhatItNames(t *testing.T) {
	p := ringtest.ForTest(t)
	// Unwanted traffic flows before, during and after the capture opens.
	noise := make(chan error, 1)
	go func() { noise <- ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 6000, 60000, 100, 200*time.Microsecond) }()
	time.Sleep(30 * time.Millisecond)
	const opens = 8
	for i := 0; i < opens; i++ {
		c := openIn(t, p.NSB, Config{Interface: p.IfB, Filter: udpPortFilter(5001, 96)})
		finish := collect(t, c)
		if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5001, 300, 300, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		got := finish()
		c.Close()
		nums := map[uint64]bool{}
		for _, s := range got {
			if s.key.proto != 17 || s.key.dport != 5001 {
				t.Fatalf("open %d: filter for udp dst port 5001 let through %+v", i, s.key)
			}
			if s.caplen != 96 {
				t.Fatalf("captured %d bytes, filter returns 96", s.caplen)
			}
			nums[binary.BigEndian.Uint64(s.data[42:])] = true
		}
		if len(got) != 300 || len(nums) != 300 {
			t.Fatalf("open %d: captured %d packets (%d distinct) to port 5001, sent 300", i, len(got), len(nums))
		}
	}
	if err := <-noise; err != nil {
		t.Fatal(err)
	}
}

// TestFanoutTwoWorkers: two hash-fanout workers together capture every
// packet exactly once, and every flow stays on one worker.
func TestFanoutTwoWorkers(t *testing.T) {
	p := ringtest.ForTest(t)
	c := openIn(t, p.NSB, Config{Interface: p.IfB, Snaplen: 128, Workers: 2, NumBlocks: 64})
	finish := collect(t, c)
	rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 6, 1<<20) }()
	go func() {
		defer wg.Done()
		for port := 7000; port < 7016; port++ {
			if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, port, 100, 100, 0); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
	got := finish()
	if want := (rx1 - rx0) + (tx1 - tx0); uint64(len(got)) != want {
		t.Errorf("2 workers captured %d packets, interface counted %d", len(got), want)
	}
	perWorker := [2]int{}
	count := map[pktKey]int{}
	flowWorker := map[string]int{}
	for _, s := range got {
		perWorker[s.worker]++
		count[s.key]++
		a, b := fmt.Sprint(s.key.src, s.key.sport), fmt.Sprint(s.key.dst, s.key.dport)
		if a > b {
			a, b = b, a
		}
		flow := fmt.Sprint(s.key.proto, a, b)
		if w, ok := flowWorker[flow]; ok && w != s.worker {
			t.Errorf("flow %s seen by workers %d and %d", flow, w, s.worker)
		}
		flowWorker[flow] = s.worker
	}
	for k, n := range count {
		if n > 1 {
			t.Errorf("packet %+v captured %d times", k, n)
		}
	}
	t.Logf("per worker %v, %d flows", perWorker, len(flowWorker))
	if perWorker[0] == 0 || perWorker[1] == 0 {
		t.Errorf("hash fanout over %d flows left a worker idle: %v", len(flowWorker), perWorker)
	}
	st, _ := c.Stats()
	for _, w := range st.Workers {
		if w.Delivered != uint64(perWorker[w.Worker]) {
			t.Errorf("worker %d stats say %d delivered, test read %d", w.Worker, w.Delivered, perWorker[w.Worker])
		}
	}
}

// vlanFrames builds n UDP frames from A to B, tagged with vlan when >= 0;
// the payload carries the frame's number.
func vlanFrames(p *ringtest.Pair, n, vlan int, dport uint16) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		payload := make([]byte, 60)
		binary.BigEndian.PutUint64(payload, uint64(i+1))
		frames[i] = ringtest.UDPFrame(p.MACA, p.MACB, vlan, p.AddrA, p.AddrB, 4000, dport, payload)
	}
	return frames
}

// TestVLANTagWrittenBack: a tag the kernel stripped is back in the frame
// (TPID 0x8100, the VLAN ID sent), and reported in the Packet. The frames
// are sent tagged from A; B's receive path strips the tag into skb
// metadata before packet sockets see it.
func TestVLANTagWrittenBack(t *testing.T) {
	p := ringtest.ForTest(t)
	for _, keep := range []bool{false, true} {
		c := openIn(t, p.NSB, Config{Interface: p.IfB, KeepVLANStripped: keep})
		finish := collect(t, c)
		if err := ringtest.SendRaw(p.NSA, p.IfA, vlanFrames(p, 50, 42, 5001)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		got := finish()
		c.Close()
		n := 0
		for _, s := range got {
			if s.outgoing {
				continue
			}
			if !s.hasVLAN || s.vlan != 42 {
				t.Fatalf("keep=%v: packet without VLAN 42 reported: %+v", keep, s)
			}
			tagged := binary.BigEndian.Uint16(s.data[12:]) == 0x8100
			if tagged == keep {
				t.Fatalf("keep=%v: tag in frame = %v", keep, tagged)
			}
			if tagged && binary.BigEndian.Uint16(s.data[14:])&0xfff != 42 {
				t.Fatalf("tag in frame has VLAN %d", binary.BigEndian.Uint16(s.data[14:])&0xfff)
			}
			if s.key.dport == 5001 {
				n++
				// Ethernet 14 + tag 4 (on the wire) + IPv4 20 + UDP 8 + 60.
				// Without the tag written back the frame is 4 bytes shorter.
				want := 106
				if keep {
					want = 102
				}
				if s.origLen != want || s.caplen != want {
					t.Fatalf("keep=%v: orig %d cap %d, want %d", keep, s.origLen, s.caplen, want)
				}
			}
		}
		if n != 50 {
			t.Fatalf("keep=%v: %d of 50 tagged datagrams captured", keep, n)
		}
	}
}

// TestNextAllocs: reading packets, VLAN-tagged ones included, allocates
// nothing.
func TestNextAllocs(t *testing.T) {
	p := ringtest.ForTest(t)
	c := openIn(t, p.NSB, Config{Interface: p.IfB, PollTimeout: time.Second})
	// Fill the ring first (half tagged), so Next never waits on the wire.
	if err := ringtest.SendRaw(p.NSA, p.IfA, vlanFrames(p, 1500, 7, 5001)); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.SendRaw(p.NSA, p.IfA, vlanFrames(p, 1500, -1, 5002)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	r := c.Workers()[0]
	var pk Packet
	var tagged int
	var nerr error
	allocs := testing.AllocsPerRun(2500, func() {
		if err := r.Next(&pk); err != nil {
			nerr = err
		}
		if pk.HasVLAN {
			tagged++
		}
	})
	if nerr != nil {
		t.Fatal(nerr)
	}
	if tagged < 1000 {
		t.Fatalf("only %d tagged packets read; the test needs them", tagged)
	}
	if allocs != 0 {
		t.Errorf("Next allocates %.2f times per packet", allocs)
	}
}

// TestStopWhileBehind: a worker that never runs out of blocks (it reads
// slower than packets arrive) still stops soon after Stop instead of
// reading the whole backlog.
func TestStopWhileBehind(t *testing.T) {
	p := ringtest.ForTest(t)
	c := openIn(t, p.NSB, Config{Interface: p.IfB, Snaplen: 64})
	stopFlood := make(chan struct{})
	flood := make(chan int, 1)
	go func() {
		n, _ := ringtest.UDPFlood(p.NSA, p.AddrB, 5001, 64, stopFlood)
		flood <- n
	}()
	defer func() { close(stopFlood); <-flood }()
	r := c.Workers()[0]
	var stopAt time.Time
	go func() {
		time.Sleep(300 * time.Millisecond)
		stopAt = time.Now()
		c.Stop()
	}()
	var pk Packet
	var n int
	for {
		err := r.Next(&pk)
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if errors.Is(err, ErrStopped) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n++; n%10 == 0 {
			time.Sleep(time.Millisecond) // far slower than the flood
		}
	}
	lag := time.Since(stopAt)
	st, _ := r.Stats()
	backlog := st.Kernel.Packets - st.Kernel.Drops - st.Delivered
	t.Logf("read %d packets, stopped %v after Stop with %d packets still in the ring", n, lag, backlog)
	if backlog < 1000 {
		t.Fatalf("only %d packets left unread: the worker was not behind, the test proves nothing", backlog)
	}
	if lag > time.Second {
		t.Errorf("worker stopped %v after Stop", lag)
	}
}
