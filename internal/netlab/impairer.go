package netlab

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// NFQUEUE queue numbers: one per direction, so the kernel's per-queue
// counters (/proc/net/netfilter/nfnetlink_queue) are per direction too.
const (
	queueC2S = 0
	queueS2C = 1
)

// impairerResult is what the impairer role reports.
type impairerResult struct {
	Drops []Drop `json:"drops"`
	// Holds and Dups list the data segments held back (reordered) and
	// sent twice (duplicated), Reason "hold" and "dup".
	Holds   []Drop                 `json:"holds,omitempty"`
	Dups    []Drop                 `json:"dups,omitempty"`
	Stats   map[string]ImpairerDir `json:"stats"`
	NFQueue []string               `json:"nfnetlink_queue"`
	Errors  []string               `json:"errors,omitempty"`
}

// dirImpairer decides the fate of one direction's packets. Only its
// receive goroutine touches the decision state.
type dirImpairer struct {
	dir     string
	imp     Impairment
	rng     *rand.Rand
	holdRng *rand.Rand // own generators, so adding a hold or a dup
	dupRng  *rand.Rand // leaves the drop decisions as they were
	q       *nfQueue
	raw     int          // IPv4 raw socket that sends the duplicates, -1 if none
	dataN   int          // data segments seen so far
	scratch []byte       // parseIPTCP's
	synDone map[int]bool // conns whose first SYN was already decided
	drops   []Drop
	holds   []Drop
	dups    []Drop
	pending sync.WaitGroup // held verdicts and duplicates not yet sent
	stats   ImpairerDir
	delayed chan delayedVerdict
	log     *bufio.Writer // every decision, one line each
}

// decisionHeader heads the per-direction decision logs
// (impairer-c2s.tsv, impairer-s2c.tsv beside the role's report).
const decisionHeader = "time_ns\tverdict\tconn\tsrc\tdst\tip_id\tseq\tack\tlen\tflags\ttsval\n"

type delayedVerdict struct {
	id  uint32
	due time.Time
	dup []byte // a copy to send DupGapMs after the packet, or nil
}

// impairerRole binds both queues, decides drop/accept for every packet
// with seeded generators, delays accepted packets by DelayMs, and on
// SIGTERM verdicts whatever is pending, then writes every drop it made.
func impairerRole(cfg *roleConfig) error {
	s := &cfg.Scenario
	clients := map[netip.Addr]bool{}
	for _, a := range cfg.ClientAddrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			clients[ip] = true
		}
	}
	var dirs []*dirImpairer
	for i, d := range []struct {
		name string
		num  uint16
		imp  Impairment
	}{{"c2s", queueC2S, s.C2S}, {"s2c", queueS2C, s.S2C}} {
		// A duplicate is sent from the queued bytes, so it needs them all.
		copyRange := uint32(128)
		if d.imp.dups() {
			copyRange = 0xffff
		}
		q, err := openNFQueue(d.num, copyRange, 1<<16)
		if err != nil {
			return err
		}
		defer q.Close()
		raw := -1
		if d.imp.dups() {
			if raw, err = openRawIPv4(); err != nil {
				return fmt.Errorf("impairer: raw socket for duplicates: %w", err)
			}
			defer closeRaw(raw)
		}
		lf, err := os.Create(filepath.Join(filepath.Dir(cfg.Out), "impairer-"+d.name+".tsv"))
		if err != nil {
			return err
		}
		defer lf.Close()
		log := bufio.NewWriterSize(lf, 256<<10)
		log.WriteString(decisionHeader)
		dirs = append(dirs, &dirImpairer{
			dir: d.name, imp: d.imp, q: q, synDone: map[int]bool{},
			rng:     rand.New(rand.NewPCG(uint64(s.Seed), uint64(i+1))),
			holdRng: rand.New(rand.NewPCG(uint64(s.Seed), uint64(i+11))),
			dupRng:  rand.New(rand.NewPCG(uint64(s.Seed), uint64(i+21))),
			raw:     raw,
			delayed: make(chan delayedVerdict, 1<<16),
			log:     log,
		})
	}
	var stopping atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stopping.Store(true) }()

	fmt.Println("ready")
	var wg sync.WaitGroup
	errs := make([]error, len(dirs))
	for i, d := range dirs {
		var vw sync.WaitGroup
		vw.Add(1)
		go func() { // delayed verdicts leave in arrival order
			defer vw.Done()
			for v := range d.delayed {
				if !stopping.Load() {
					time.Sleep(time.Until(v.due))
				}
				d.release(v.id, v.dup)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stop only once signalled and the queue has been idle for a
			// receive timeout: the caller removed the iptables rule first.
			errs[i] = d.q.Receive(stopping.Load, d.handle)
			close(d.delayed)
			vw.Wait()
			d.pending.Wait()
		}()
	}
	wg.Wait()

	res := impairerResult{Stats: map[string]ImpairerDir{}}
	// The kernel's queue counters, read while the queues are still bound.
	if b, err := os.ReadFile("/proc/net/netfilter/nfnetlink_queue"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			res.NFQueue = append(res.NFQueue, strings.Join(strings.Fields(l), " "))
		}
	}
	for i, d := range dirs {
		if err := d.log.Flush(); err != nil {
			res.Errors = append(res.Errors, "decision log: "+err.Error())
		}
		res.Drops = append(res.Drops, d.drops...)
		res.Holds = append(res.Holds, d.holds...)
		res.Dups = append(res.Dups, d.dups...)
		res.Stats[d.dir] = d.stats
		if errs[i] != nil {
			res.Errors = append(res.Errors, errs[i].Error())
		}
	}
	for _, l := range [][]Drop{res.Drops, res.Holds, res.Dups} {
		slices.SortStableFunc(l, func(a, b Drop) int { return cmpInt64(a.Time, b.Time) })
	}
	return writeJSON(cfg.Out, res)
}

// handle decides one packet.
func (d *dirImpairer) handle(p nfqPacket) {
	now := time.Now()
	var f frame
	d.scratch = parseIPTCP(&f, p.Payload, d.scratch)
	d.stats.Packets++
	d.stats.Bytes += int64(f.OrigLen)
	if !f.TCP {
		d.release(p.ID, nil)
		return
	}
	conn := -1
	port := f.Src.Port()
	if d.dir == "s2c" {
		port = f.Dst.Port()
	}
	if port >= clientPort && int(port) < clientPort+maxConns {
		conn = int(port) - clientPort
	}
	reason := ""
	isSYN := f.Flags&0x12 == 0x02
	if isSYN && conn >= 0 && !d.synDone[conn] {
		d.synDone[conn] = true
		if slices.Contains(d.imp.DropSYNOfConns, conn) {
			reason = "syn"
		}
	}
	hold, dup := false, false
	if f.PayLen > 0 {
		d.dataN++
		// Draw for every data segment so the sequence of decisions
		// depends only on the seed and the packet order.
		x := d.rng.Float64() * 100
		switch {
		case slices.Contains(d.imp.DropNth, d.dataN):
			reason = "nth"
		case x < d.imp.DropPct:
			reason = "loss"
		}
		if d.imp.holds() {
			hold = d.holdRng.Float64()*100 < d.imp.HoldPct || slices.Contains(d.imp.HoldNth, d.dataN)
		}
		if d.imp.dups() {
			// A raw socket would give an IP ID of 0 a fresh value: the
			// copy would no longer be identical.
			dup = (d.dupRng.Float64()*100 < d.imp.DupPct || slices.Contains(d.imp.DupNth, d.dataN)) && f.IPID != 0
		}
	}
	verdict := "accept"
	switch {
	case reason != "":
		verdict = "drop:" + reason
		hold, dup = false, false
	case hold && dup:
		verdict = "accept:hold+dup"
	case hold:
		verdict = "accept:hold"
	case dup:
		verdict = "accept:dup"
	}
	fmt.Fprintf(d.log, "%d\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n", now.UnixNano(), verdict, conn,
		f.Src, f.Dst, f.IPID, f.Seq, f.Ack, f.PayLen, flagNames(f.Flags), f.TSVal)
	record := func(why string) Drop {
		return Drop{
			Conn: conn, Dir: d.dir, Where: "between", Reason: why, Time: now.UnixNano(),
			Src: f.Src.String(), Dst: f.Dst.String(), IPID: f.IPID, Seq: f.Seq, Ack: f.Ack,
			Len: f.PayLen, Flags: f.Flags, FlagNames: flagNames(f.Flags), TSVal: f.TSVal,
		}
	}
	if reason != "" {
		d.drops = append(d.drops, record(reason))
		d.stats.Dropped++
		_ = d.q.Verdict(p.ID, false)
		return
	}
	var cp []byte
	if dup {
		// The receive buffer is reused for the next packet.
		cp = slices.Clone(p.Payload)
		d.dups = append(d.dups, record("dup"))
		d.stats.Duplicated++
	}
	wait := time.Duration(d.imp.DelayMs) * time.Millisecond
	if hold {
		d.holds = append(d.holds, record("hold"))
		d.stats.Held++
		wait += time.Duration(cmp.Or(d.imp.HoldMs, 10)) * time.Millisecond
		d.pending.Add(1)
		time.AfterFunc(wait, func() {
			defer d.pending.Done()
			d.release(p.ID, cp)
		})
		return
	}
	if wait > 0 {
		d.delayed <- delayedVerdict{id: p.ID, due: now.Add(wait), dup: cp}
		return
	}
	d.release(p.ID, cp)
}

// release accepts packet id and, when dup holds its bytes, sends them
// once more DupGapMs later through the raw socket: the copy leaves the
// router as the original did, but locally sent, so it does not meet the
// impairer's queue again.
func (d *dirImpairer) release(id uint32, dup []byte) {
	_ = d.q.Verdict(id, true)
	if dup == nil || d.raw < 0 || len(dup) < 20 {
		return
	}
	d.pending.Add(1)
	time.AfterFunc(time.Duration(cmp.Or(d.imp.DupGapMs, 3))*time.Millisecond, func() {
		defer d.pending.Done()
		if err := sendRawIPv4(d.raw, dup); err != nil {
			fmt.Fprintf(os.Stderr, "impairer: sending a duplicate: %v\n", err)
		}
	})
}

// parseIPTCP parses a packet that starts at its IP header (as NFQUEUE
// hands it over) by giving parseEthernetTCP a fake Ethernet header, built
// in scratch; it returns scratch for the next call.
func parseIPTCP(f *frame, ip, scratch []byte) []byte {
	if len(ip) == 0 {
		return scratch
	}
	buf := slices.Grow(scratch[:0], 14+len(ip))[:14+len(ip)]
	clear(buf[:14])
	et := uint16(0x0800)
	if ip[0]>>4 == 6 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(buf[12:], et)
	copy(buf[14:], ip)
	f.Data = buf
	parseEthernetTCP(f)
	switch {
	case et == 0x0800 && len(ip) >= 4:
		f.OrigLen = int(binary.BigEndian.Uint16(ip[2:]))
	case len(ip) >= 6:
		f.OrigLen = 40 + int(binary.BigEndian.Uint16(ip[4:]))
	}
	f.Data = nil
	return buf
}
