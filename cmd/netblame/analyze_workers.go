package main

import (
	"runtime"
	"sync"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

// onePacket is what analyze does with each packet on one core: the
// filters that narrow the views, -w, then the view. conversations is nil
// when no field needs it.
func (o *analyzeOptions) onePacket(p *track.Packet, v view, fc *fileCtx, pk *packetCtx, dp *dfilter.Packet,
	conversations *dfilter.Conversations, prevTS *int64, needDP bool) error {
	if !fc.started {
		fc.first, fc.started, *prevTS = p.Capture.Timestamp, true, p.Capture.Timestamp
	}
	prev := *prevTS // frame.time_delta is from the previous frame read
	*prevTS = p.Capture.Timestamp
	if needDP {
		dp.Reset()
		dp.Frame, dp.TS, dp.First, dp.Prev = p.Capture.Frame, p.Capture.Timestamp, fc.first, prev
		dp.Len, dp.Data, dp.Decoded, dp.Payload = p.Capture.OrigLen, p.Capture.Data, p.Decoded, p.Payload()
		dp.Transport = p.Transport()
		dp.Result = nil
		if p.Result.Tracked {
			dp.Result = &p.Result
		}
		if conversations != nil {
			conversations.See(dp)
		}
	}
	o.plot.packet(p) // --plot sees what the table saw
	// The table has seen every packet; the host and port filter and
	// the display filter only narrow what the views show.
	if !o.filter.match(p.Decoded) {
		return nil
	}
	if o.display != nil {
		if !o.display.Match(dp) {
			return nil
		}
		if p.Result.Tracked {
			fc.displayed[p.Result.Index] = true
		}
	}
	if o.write != nil {
		if err := o.write.packet(p.Capture); err != nil {
			return viewError{err}
		}
	}
	*pk = packetCtx{cap: p.Capture, dec: p.Decoded, payload: p.Payload(), err: p.DecodeErr, rel: p.Capture.Timestamp - fc.first,
		res: &p.Result, events: p.Events, dp: dp}
	if err := v.packet(pk); err != nil {
		return viewError{err}
	}
	if fc.shown++; o.count > 0 && fc.shown >= o.count {
		fc.stopFrame = p.Capture.Frame
		return errCountReached
	}
	return nil
}

// fileWorkers is how many workers a file's analysis gets: --workers (0:
// GOMAXPROCS) for --stats and the flow tables (the default view,
// --handshake-over, --reset-by), whose output is made of totals and flow
// records; 1 for the views that print packet by packet in frame order
// (--summary, --events, --trace, -e, -V), and whenever -Y, --host, --port,
// -w, -c or --plot look at each packet (their state is one goroutine's) or
// --merge labels frames by file.
func (o *analyzeOptions) fileWorkers(v view) int {
	switch v.(type) {
	case *statsView, *flowsView:
	default:
		return 1
	}
	if o.display != nil || o.filter.active() || o.write != nil || o.plot.kind != "" || o.count > 0 || o.merge {
		return 1
	}
	if o.workers == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.workers
}

// runWorkers is the file's pass on n workers (track.RunWorkers). The
// flow records come from every worker, one at a time; --stats counts
// packets in one partial total a worker, added up at the end; flows are
// numbered as one core numbers them once the table is flushed
// (flowsView.finish).
func (o *analyzeOptions) runWorkers(tr *track.Tracker, src capfile.Source, v view, fc *fileCtx, n int) error {
	type first struct {
		frame uint64
		ts    int64
		_     [48]byte // each worker writes its own
	}
	firsts := make([]first, n)
	parts := make([]*statsView, n)
	sv, _ := v.(*statsView)
	fv, _ := v.(*flowsView)
	if fv != nil {
		fv.renumber = true
	}
	for i := range parts {
		if sv != nil {
			parts[i] = newStatsView(nil, o, fc)
		}
	}
	err := tr.RunWorkers(src, track.Workers{N: n}, func(w int, p *track.Packet) error {
		if f := &firsts[w]; f.frame == 0 {
			f.frame, f.ts = p.Capture.Frame, p.Capture.Timestamp
		}
		if sv != nil {
			pk := packetCtx{cap: p.Capture, dec: p.Decoded, err: p.DecodeErr, res: &p.Result, events: p.Events}
			return parts[w].packet(&pk)
		}
		if fv != nil && w == 0 {
			// Packets of other protocols have no flow: all reach worker 0,
			// in frame order.
			fv.others.Add(p.Decoded, p.Capture.Timestamp, p.Capture.Frame, p.Capture.OrigLen)
		}
		return nil
	})
	// The file's first packet, for relative times: the earliest of the
	// workers' first ones.
	var earliest uint64
	for _, f := range firsts {
		if f.frame != 0 && (earliest == 0 || f.frame < earliest) {
			earliest, fc.first, fc.started = f.frame, f.ts, true
		}
	}
	if sv != nil {
		for _, p := range parts {
			sv.add(p)
		}
	}
	return err
}

// lockedFlows makes a flow sink safe for the workers: flow records come
// from every worker, one at a time.
func lockedFlows(fs flowSink) func(*flowtable.FlowRecord) {
	var mu sync.Mutex
	return func(r *flowtable.FlowRecord) {
		mu.Lock()
		fs.flow(r)
		mu.Unlock()
	}
}
