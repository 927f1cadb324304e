package flowtable

import (
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
)

// multiLockstep feeds the same packets to a table with one owner and to
// one with n owners on an external clock (Clock, UpdateAt, Sweep), packet
// by packet in one goroutine, and requires the same results, events and
// ended flows after each packet (Index aside: the owners' creations are
// numbered at the end, by Renumber), and the same counters at the end.
type multiLockstep struct {
	tb              testing.TB
	sole, multi     *Table
	soleOwner       *Owner
	owners          []*Owner
	ownerOf         []int // by shard
	clock           Clock
	evSole, evMulti []EventRecord
	endSole         []FlowRecord
	endMulti        []FlowRecord
	allSole         []FlowRecord
	allMulti        []FlowRecord
	sweeps          int
}

func newMultiLockstep(tb testing.TB, cfg Config, n int) *multiLockstep {
	l := &multiLockstep{tb: tb}
	newTable := func(ev *[]EventRecord, end *[]FlowRecord) *Table {
		c := cfg
		c.Seed = 1
		c.OnEvent = func(r *EventRecord) { *ev = append(*ev, *r) }
		c.OnExpire = func(r *FlowRecord) { *end = append(*end, *r) }
		tab, err := New(c)
		if err != nil {
			tb.Fatal(err)
		}
		return tab
	}
	l.sole = newTable(&l.evSole, &l.endSole)
	l.multi = newTable(&l.evMulti, &l.endMulti)
	l.soleOwner = l.sole.SoleOwner()
	shards := make([][]int, n)
	l.ownerOf = make([]int, l.multi.Shards())
	for s := range l.ownerOf {
		l.ownerOf[s] = s % n
		shards[s%n] = append(shards[s%n], s)
	}
	for _, sh := range shards {
		o, err := l.multi.Owner(sh...)
		if err != nil {
			tb.Fatal(err)
		}
		l.owners = append(l.owners, o)
	}
	l.multi.ExternalClock(true, 0)
	l.clock = l.multi.NewClock()
	return l
}

func (l *multiLockstep) update(what string, p *decode.Packet, ts int64, frame uint64) {
	l.tb.Helper()
	var want, got PacketResult
	l.soleOwner.Update(p, ts, frame, &want)
	if sh := l.multi.ShardOf(p); sh < 0 {
		l.owners[0].UpdateAt(p, ts, frame, l.clock.Now(), &got)
	} else {
		clock, sweep := l.clock.Advance(ts)
		l.owners[l.ownerOf[sh]].UpdateAt(p, ts, frame, clock, &got)
		if sweep >= 0 {
			l.sweeps++
			l.owners[l.ownerOf[sweep]].Sweep(sweep, l.clock.Now())
		}
	}
	got.Index, want.Index = 0, 0
	if got != want {
		l.tb.Fatalf("%s frame %d: result %+v, one owner gives %+v", what, frame, got, want)
	}
	if len(l.evSole) != len(l.evMulti) {
		l.tb.Fatalf("%s frame %d: events %+v, one owner gives %+v", what, frame, l.evMulti, l.evSole)
	}
	for i := range l.evSole {
		if l.evSole[i] != l.evMulti[i] {
			l.tb.Fatalf("%s frame %d: event %+v, one owner gives %+v", what, frame, l.evMulti[i], l.evSole[i])
		}
	}
	l.evSole, l.evMulti = l.evSole[:0], l.evMulti[:0]
	l.sameEnds(what, frame)
}

func (l *multiLockstep) sameEnds(what string, frame uint64) {
	l.tb.Helper()
	if len(l.endSole) != len(l.endMulti) {
		l.tb.Fatalf("%s frame %d: %d flows ended, one owner ends %d", what, frame, len(l.endMulti), len(l.endSole))
	}
	for i := range l.endSole {
		a, b := l.endSole[i], l.endMulti[i]
		a.Index, b.Index = 0, 0
		if a != b {
			l.tb.Fatalf("%s frame %d: flow record\n%+v\none owner:\n%+v", what, frame, b, a)
		}
	}
	l.allSole = append(l.allSole, l.endSole...)
	l.allMulti = append(l.allMulti, l.endMulti...)
	l.endSole, l.endMulti = l.endSole[:0], l.endMulti[:0]
}

func (l *multiLockstep) finish(what string) {
	l.tb.Helper()
	l.multi.ExternalClock(false, l.clock.Now())
	l.sole.Flush()
	l.multi.Flush()
	l.sameEnds(what, 0)
	Renumber(l.allSole)
	Renumber(l.allMulti)
	for i := range l.allSole {
		if l.allSole[i] != l.allMulti[i] {
			l.tb.Fatalf("%s: flow %d after Renumber\n%+v\none owner:\n%+v", what, i, l.allMulti[i], l.allSole[i])
		}
	}
	if a, b := l.sole.Stats(), l.multi.Stats(); a != b {
		l.tb.Fatalf("%s: stats %+v, one owner %+v", what, b, a)
	}
}

// With timeouts of a few milliseconds, four shards of 16 flows and six
// connections, flows expire, are swept from idle shards and are evicted
// all the time: the owners must do it exactly when the one owner does.
func TestClockedOwnersMatchSoleOwnerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	sweeps, ends := 0, 0
	for run := range 200 {
		for _, n := range []int{2, 3} {
			l := newMultiLockstep(t, Config{Capacity: 16, Shards: 4,
				Timeouts: Timeouts{HalfOpen: 3 * time.Millisecond, Established: 40 * time.Millisecond,
					Closing: 5 * time.Millisecond, UDP: 20 * time.Millisecond}}, n)
			what := "random run " + strconv.Itoa(run) + " owners " + strconv.Itoa(n)
			randomConnections(rng, 1000, func(p *decode.Packet, ts int64, frame uint64) {
				l.update(what, p, ts, frame)
			})
			l.finish(what)
			sweeps += l.sweeps
			st := l.sole.Stats()
			ends += int(st.Expired + st.Evicted)
		}
	}
	t.Logf("%d sweeps, %d flows expired or evicted", sweeps, ends)
	if sweeps == 0 || ends == 0 {
		t.Fatalf("the runs never swept (%d) or expired (%d): the comparison proves nothing", sweeps, ends)
	}
}

// The shared captures, with the defaults and with short timeouts and a
// small table (expiry and eviction on real traffic).
func TestClockedOwnersMatchSoleOwnerOnCaptures(t *testing.T) {
	dir := sharedtest.PcapsIfPresent()
	if dir == "" {
		t.Skip("../shared/pcaps not found: no captures to compare on")
	}
	short := Config{Capacity: 64, Shards: 8, IgnoreVLAN: true, Timeouts: Timeouts{HalfOpen: 10 * time.Millisecond,
		Established: 50 * time.Millisecond, Closing: 10 * time.Millisecond, UDP: 10 * time.Millisecond}}
	for _, row := range readCounts(t, dir) {
		for _, cfg := range []Config{{IgnoreVLAN: true}, short} {
			for _, n := range []int{2, 4} {
				path := filepath.Join(dir, row.file)
				r, err := capfile.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				l := newMultiLockstep(t, cfg, n)
				var cp capfile.Packet
				var p decode.Packet
				for {
					if err := r.Next(&cp); err != nil {
						if !errors.Is(err, io.EOF) {
							t.Logf("%s: read stops: %v", row.file, err)
						}
						break
					}
					_ = p.Decode(cp.Data, cp.Link)
					l.update(row.file, &p, cp.Timestamp, cp.Frame)
				}
				r.Close()
				l.finish(row.file)
			}
		}
	}
}
