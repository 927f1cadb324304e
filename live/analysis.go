package live

import (
	"fmt"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// largestKept is how many of the largest ended flows a Report lists.
const largestKept = 10

// analysis runs flow tables while capturing. With hash fanout each worker
// has its own table (the kernel keeps a flow on one worker, so the tables
// never share a flow and their locks are never contended); with the other
// fanout modes a flow can reach two workers, so they share one.
type analysis struct {
	tables  []*flowtable.Table
	workers []*workerAnalysis
	top     *flowtable.Largest // the largest flows that ended
}

// workerAnalysis is one worker's share: its path to the table.
type workerAnalysis struct {
	track *track.Tracker
	cp    capfile.Packet
}

func newAnalysis(c *ring.Capture) (*analysis, error) {
	a := &analysis{top: flowtable.NewLargest(largestKept)}
	n := len(c.Workers())
	shared := c.Config().Fanout != ring.FanoutHash && n > 1
	cfg := flowtable.Config{OnExpire: a.top.Add}
	for i := 0; i < n; i++ {
		if i == 0 || !shared {
			t, err := flowtable.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("flow table: %w", err)
			}
			a.tables = append(a.tables, t)
		}
		// The table is shared with the summary, which expires and reads
		// it: updates take its shard locks.
		tr, err := track.New(track.Options{Table: a.tables[len(a.tables)-1]})
		if err != nil {
			return nil, err
		}
		a.workers = append(a.workers, &workerAnalysis{track: tr})
	}
	return a, nil
}

// feed runs one packet through the path (decode, defrag, table) and
// returns it when it had events, nil otherwise.
func (w *workerAnalysis) feed(p *ring.Packet, frame uint64, link linktype.Type) *track.Packet {
	w.cp = capfile.Packet{Frame: frame, Timestamp: p.Timestamp, Data: p.Data, OrigLen: p.OrigLen, Link: link}
	tp := w.track.Feed(&w.cp)
	if tp == nil || tp.Result.Events == 0 {
		return nil
	}
	return tp
}

// totals sums the tables' counters, expiring idle flows first (packet
// time may stand still when traffic stops, so wall time drives it).
func (a *analysis) totals() flowtable.TableStats {
	var st flowtable.TableStats
	now := time.Now().UnixNano()
	for _, t := range a.tables {
		t.Expire(now)
		s := t.Stats()
		st.Add(&s)
	}
	return st
}

// finish ends every flow still in the tables and returns the largest.
func (a *analysis) finish() []flowtable.FlowRecord {
	for _, t := range a.tables {
		t.Flush()
	}
	return a.top.Flows()
}
