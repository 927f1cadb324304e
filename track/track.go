// Package track runs captured packets through netblame's single-capture
// path, the same way for every user of it: decode, IP defragmentation (as
// Wireshark reassembles by default), optional removal of capture
// duplicates, and the flow table with its TCP analysis. `netblame
// analyze`, live `capture --analyze`, the benchmarks and correlate's
// capture reader all run on it.
//
// Start from File for the common case (a capture file in, flow records
// out), or make a Tracker with New and feed it packets from any Source
// with Run, All (an iterator) or one at a time with Feed. No step
// allocates per packet.
package track

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/dedup"
	"github.com/netblame/netblame/defrag"
	"github.com/netblame/netblame/flowtable"
)

// Source yields captured packets: capfile.Reader and capfile.Merged for
// files, ring.Source for a live interface. Next returns io.EOF at the
// end; any other error ends the run.
type Source = capfile.Source

// Options configure a Tracker. The zero value decodes and reassembles
// only, with no flow table.
type Options struct {
	// Flows, when set, configures a flow table the tracker creates and
	// feeds alone, without locks. Its OnEvent also receives every event;
	// Packet.Events holds the packet's own.
	Flows *flowtable.Config
	// Table feeds an existing table instead, shared with other trackers
	// (updates then take its shard locks; Packet.Events stays empty, the
	// result's event set says what happened).
	Table *flowtable.Table
	// Owner feeds the shards of an existing table this tracker owns
	// (a fanout worker's share), without locks.
	Owner *flowtable.Owner
	// Dedup leaves capture duplicates out (identical packets within
	// DedupWindow, default dedup.DefaultWindow): they reach neither the
	// table nor the caller, and are counted in Stats.Duplicates.
	Dedup       bool
	DedupWindow time.Duration
	// CaptureFilter, when set, sees every packet as read, before
	// anything else (decode, dedup, defrag): false drops it as tcpdump's
	// or tshark's -f would, so it reaches neither the table nor the
	// caller and is counted in Stats.CaptureFiltered. It gets the
	// capfile packet (bytes, wire length, link type) so that track needs
	// no filter package; a tcpdump expression is one line away:
	//
	//	lm, err := filter.NewLinkMatcher("tcp port 443", 0)
	//	opts.CaptureFilter = func(p *capfile.Packet) bool {
	//		return lm.Match(p.Data, uint32(p.OrigLen), p.Link)
	//	}
	CaptureFilter func(*capfile.Packet) bool
	// Filter, when set, sees every decoded packet (a datagram once
	// whole) before the flow table; false leaves it out of the table and
	// of the caller's view, as a capture filter would. Packets that do
	// not decode to their transport layer still reach it.
	Filter func(*decode.Packet) bool
}

// Packet is what the tracker made of one captured packet. It and what it
// points to stay valid until the next packet.
type Packet struct {
	// Capture is the packet as read: frame number, time, bytes.
	Capture *capfile.Packet
	// Decoded is the packet decoded, or the datagram it completed when
	// it was the last missing fragment of one (then Reassembled is true);
	// a fragment that completes nothing is Decoded as itself and does
	// not reach the flow table.
	Decoded     *decode.Packet
	Reassembled bool
	// DecodeErr is what decode said of the packet, nil for a completed
	// datagram: its fragment's complaint is not the datagram's.
	DecodeErr error
	// Result is the flow table's view (zero with Tracked false when the
	// packet did not reach one); Events the packet's events in order,
	// with a table the tracker created.
	Result flowtable.PacketResult
	Events []flowtable.EventRecord

	whole []byte // the reassembled datagram's bytes past its IP header
}

// Transport returns the bytes Decoded's transport offsets index: the
// captured packet, or for a reassembled datagram the bytes defrag put
// together (its first 128 past the IP headers).
func (p *Packet) Transport() []byte {
	if p.Reassembled {
		return p.whole
	}
	return p.Capture.Data
}

// Payload returns the captured TCP or UDP payload bytes (nil when the
// packet carries none or is an unreassembled fragment).
func (p *Packet) Payload() []byte {
	d := p.Decoded
	if d.Layer < decode.LayerTransport || d.Has(decode.Fragment) || d.CapPayloadLen <= 0 {
		return nil
	}
	b := p.Transport()
	if d.PayloadOffset+d.CapPayloadLen > len(b) {
		return nil
	}
	return b[d.PayloadOffset : d.PayloadOffset+d.CapPayloadLen]
}

// Stats counts what a tracker has seen.
type Stats struct {
	Packets         uint64 // read
	CaptureFiltered uint64 // left out by CaptureFilter (included in Packets)
	Duplicates      uint64 // left out by Dedup
	Filtered        uint64 // left out by Filter
	Defrag          defrag.Stats
}

// updater is what feeds a flow table: an Owner or a Table.
type updater interface {
	Update(p *decode.Packet, ts int64, frame uint64, out *flowtable.PacketResult)
}

// Tracker holds the state of one run of the path. It is for one
// goroutine.
type Tracker struct {
	opts   Options
	table  *flowtable.Table
	upd    updater
	pieces *defrag.Table
	dups   *dedup.Detector
	stats  Stats

	cp     capfile.Packet
	dec    decode.Packet
	whole  decode.Packet
	pkt    Packet
	events []flowtable.EventRecord
	batch  *readBatch // Run's batch, made on first use
	fan    *fanout    // while RunWorkers runs
	sink   *eventSink // where the table's events go
}

// eventSink says where events go: fan while RunWorkers runs.
type eventSink struct {
	_   [64]byte
	fan *fanout
	_   [56]byte
}

// New makes a tracker. With Options.Flows it creates the flow table.
func New(opts Options) (*Tracker, error) {
	t := &Tracker{opts: opts, pieces: defrag.New(0, 0)}
	switch {
	case opts.Flows != nil:
		cfg := *opts.Flows
		user := cfg.OnEvent
		// Workers read it, apart from the tracker's fields the reader
		// writes on every packet.
		sink := &eventSink{}
		t.sink = sink
		cfg.OnEvent = func(e *flowtable.EventRecord) {
			if fan := sink.fan; fan != nil { // on the worker that owns the flow's shard
				w := fan.byShard[e.Flow.Shard()]
				w.events = append(w.events, *e)
			} else {
				t.events = append(t.events, *e)
			}
			if user != nil {
				user(e)
			}
		}
		tab, err := flowtable.New(cfg)
		if err != nil {
			return nil, err
		}
		t.table, t.upd = tab, tab.SoleOwner()
	case opts.Owner != nil:
		t.upd = opts.Owner
	case opts.Table != nil:
		t.table, t.upd = opts.Table, opts.Table
	}
	if opts.Dedup {
		t.dups = dedup.New(cmp.Or(opts.DedupWindow, dedup.DefaultWindow))
	}
	return t, nil
}

// Table returns the flow table the tracker feeds (nil without one, or
// with an Owner).
func (t *Tracker) Table() *flowtable.Table { return t.table }

// Stats returns the counters so far.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Defrag = t.pieces.Stats()
	return s
}

// Feed runs one captured packet through the path. It returns nil for a
// packet left out (refused by the capture filter, a capture duplicate,
// or refused by the filter); the Packet it returns is valid until the
// next call.
func (t *Tracker) Feed(cp *capfile.Packet) *Packet {
	if !t.admit(cp) {
		return nil
	}
	return t.feedDecoded(cp, &t.dec, t.dec.Decode(cp.Data, cp.Link))
}

// admit counts a captured packet and applies the capture filter.
func (t *Tracker) admit(cp *capfile.Packet) bool { return t.count(t.passes(cp)) }

// passes applies the capture filter.
func (t *Tracker) passes(cp *capfile.Packet) bool {
	return t.opts.CaptureFilter == nil || t.opts.CaptureFilter(cp)
}

// count counts a captured packet that passed the capture filter or not.
func (t *Tracker) count(passed bool) bool {
	t.stats.Packets++
	if !passed {
		t.stats.CaptureFiltered++
	}
	return passed
}

// feedDecoded is the rest of Feed for an admitted packet that dec holds
// decoded (decErr is what decode said).
func (t *Tracker) feedDecoded(cp *capfile.Packet, dec *decode.Packet, decErr error) *Packet {
	p, d := t.front(cp, dec, decErr)
	if p == nil {
		return nil
	}
	if d != nil && t.upd != nil {
		t.upd.Update(d, cp.Timestamp, cp.Frame, &p.Result)
	}
	p.Events = t.events
	return p
}

// front is the path from decode to the flow table: it returns the packet
// (nil when left out) and what goes to the table (nil: nothing, a
// fragment still waiting).
func (t *Tracker) front(cp *capfile.Packet, dec *decode.Packet, decErr error) (*Packet, *decode.Packet) {
	p := &t.pkt
	*p = Packet{Capture: cp}
	p.DecodeErr = decErr
	if t.dups != nil && p.DecodeErr == nil && t.dups.Duplicate(cp.Timestamp, dec) {
		t.stats.Duplicates++
		return nil, nil
	}
	t.events = t.events[:0]
	d := t.pieces.Take(dec, cp.Data, cp.Timestamp, &t.whole)
	if d == &t.whole {
		p.Reassembled, p.DecodeErr, p.whole = true, nil, t.pieces.Transport()
	}
	if d == nil {
		p.Decoded = dec // a fragment still waiting: not for the table
	} else {
		p.Decoded = d
	}
	if t.opts.Filter != nil && !t.opts.Filter(p.Decoded) {
		t.stats.Filtered++
		return nil, nil
	}
	return p, d
}

// Run feeds every packet of src to the path and fn (which may be nil),
// until the end of src or fn's first error. A read error ends the run
// after every packet before it and is returned; fn's error is returned
// as it is. The flow table is not flushed: call Finish.
//
// A source that reads in batches (capfile.Reader) feeding an Owner is
// read a batch at a time: the batch is decoded, the table prefetches the
// state of its flows, then each packet goes through the path and fn in
// order, as it would alone. When fn stops the run, the rest of the batch
// was read from src but not fed.
func (t *Tracker) Run(src Source, fn func(*Packet) error) error {
	if bs, ok := src.(batchSource); ok {
		if o, ok := t.upd.(*flowtable.Owner); ok {
			return t.runBatches(bs, o, fn)
		}
	}
	for {
		err := src.Next(&t.cp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := t.Feed(&t.cp)
		if p == nil || fn == nil {
			continue
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

// batchSource is a Source that reads several packets whose views stay
// valid together.
type batchSource interface {
	NextBatch(ps []capfile.Packet) (int, error)
}

// batchLen is how many packets Run reads, decodes and prefetches at once:
// enough for the flow table's loads to overlap, few enough that the
// batch's decoded packets stay in the first-level cache.
const batchLen = 16

type readBatch struct {
	cps    [batchLen]capfile.Packet
	passed [batchLen]bool // by the capture filter
	decs   [batchLen]decode.Packet
	errs   [batchLen]error
	ptrs   [batchLen]*decode.Packet // the passed packets' decs, as Prefetch takes them
}

// runBatches is Run for a batch source feeding an Owner. The capture
// filter and decode run on the whole batch first (only packets that pass
// are decoded, as in Feed); counting waits for the packet's turn, so that
// a run fn stops counts no packet it did not see.
func (t *Tracker) runBatches(src batchSource, o *flowtable.Owner, fn func(*Packet) error) error {
	if t.batch == nil {
		t.batch = new(readBatch)
	}
	b := t.batch
	for {
		n, err := src.NextBatch(b.cps[:])
		ptrs := b.ptrs[:0]
		for i := range n {
			cp := &b.cps[i]
			if b.passed[i] = t.passes(cp); b.passed[i] {
				b.errs[i] = b.decs[i].Decode(cp.Data, cp.Link)
				ptrs = append(ptrs, &b.decs[i])
			}
		}
		o.Prefetch(ptrs)
		for i := range n {
			cp := &b.cps[i]
			if !t.count(b.passed[i]) {
				continue
			}
			p := t.feedDecoded(cp, &b.decs[i], b.errs[i])
			if p == nil || fn == nil {
				continue
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// All returns an iterator over the packets of src after the path, for a
// range loop; a read error comes as the last pair, with a nil packet.
func (t *Tracker) All(src Source) iter.Seq2[*Packet, error] {
	return func(yield func(*Packet, error) bool) {
		stop := errors.New("stop")
		err := t.Run(src, func(p *Packet) error {
			if !yield(p, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			yield(nil, err)
		}
	}
}

// Finish ends the run: a table the tracker created is flushed, so every
// flow still live reaches OnExpire.
func (t *Tracker) Finish() {
	if t.opts.Flows != nil {
		t.table.Flush()
	}
}

// File runs a capture file (pcap or pcapng, plain, gzip or zstd) through
// the whole path with a flow table configured by cfg (nil: defaults with
// tshark's VLAN handling, VLAN IDs ignored), and returns every flow, in
// the order each began, and the totals. A file damaged part-way yields
// what was read before the damage, with the error.
func File(path string, cfg *flowtable.Config) (flows []flowtable.FlowRecord, stats flowtable.TableStats, err error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, stats, err
	}
	defer r.Close()
	c := flowtable.Config{IgnoreVLAN: true}
	if cfg != nil {
		c = *cfg
	}
	user := c.OnExpire
	c.OnExpire = func(f *flowtable.FlowRecord) {
		flows = append(flows, *f)
		if user != nil {
			user(f)
		}
	}
	t, err := New(Options{Flows: &c})
	if err != nil {
		return nil, stats, fmt.Errorf("track: %w", err)
	}
	err = t.Run(r, nil)
	t.Finish()
	// Flows end in the order they expire; a user reads them in the order
	// they began, as tshark numbers its streams.
	slices.SortFunc(flows, func(a, b flowtable.FlowRecord) int { return cmp.Compare(a.Index, b.Index) })
	return flows, t.table.Stats(), err
}
