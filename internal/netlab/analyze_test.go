package netlab

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netblame/netblame/internal/sharedtest"
)

// sharedTruth is the part of ../shared/twopoint/*/truth.json this test reads.
type sharedTruth struct {
	Connections int `json:"connections"`
	Topology    struct {
		Client, Server string
	} `json:"topology"`
	ImpairerDrops []struct {
		Dir  string `json:"dir"`
		IPID uint32 `json:"ip_id"`
		Seq  uint32 `json:"seq"`
		Rel  uint32 `json:"rel_seq"`
		Len  int    `json:"len"`
	} `json:"impairer_drops"`
}

// TestAnalyzeSharedTwopoint recovers the loss between the points from the
// shared captures, which another generator made with its own impairer log,
// and compares it packet by packet with that log: an independent check of
// the matching this package's truth relies on.
func TestAnalyzeSharedTwopoint(t *testing.T) {
	root := sharedtest.TwoPoint(t)
	names, _ := filepath.Glob(filepath.Join(root, "*", "truth.json"))
	if len(names) == 0 {
		t.Skip("no shared scenarios")
	}
	for _, tp := range names {
		dir := filepath.Dir(tp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			var st sharedTruth
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			span, _, _, err := readFrames(filepath.Join(dir, "span.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			server, _, _, err := readFrames(filepath.Join(dir, "server.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			s := Scenario{Name: "shared", Conns: make([]Conn, st.Connections)}
			a := labAddrs{client: netip.MustParseAddr(st.Topology.Client), server: netip.MustParseAddr(st.Topology.Server)}
			an := analyze(&s, a, span, server, &impairerResult{})
			type id struct {
				dir  string
				ipid uint32
				seq  uint32
				rel  uint32
				len  int
			}
			var want, got []id
			for _, d := range st.ImpairerDrops {
				want = append(want, id{d.Dir, d.IPID, d.Seq, d.Rel, d.Len})
			}
			for _, d := range an.lost {
				if d.Reason != "unexplained" { // no impairer log given: every loss is unexplained
					t.Errorf("loss %+v explained without a log", d)
				}
				got = append(got, id{d.Dir, d.IPID, d.Seq, d.RelSeq, d.Len})
			}
			cmp := func(x, y id) int {
				switch {
				case x.dir != y.dir:
					return map[bool]int{true: -1, false: 1}[x.dir < y.dir]
				case x.seq != y.seq:
					return map[bool]int{true: -1, false: 1}[x.seq < y.seq]
				case x.ipid != y.ipid:
					return map[bool]int{true: -1, false: 1}[x.ipid < y.ipid]
				}
				return x.len - y.len
			}
			slices.SortFunc(want, cmp)
			slices.SortFunc(got, cmp)
			if !slices.Equal(got, want) {
				t.Errorf("lost between the points: got %d %v\nwant %d %v", len(got), got, len(want), want)
			}
			if an.extra != 0 {
				t.Errorf("%d downstream packets without an upstream copy", an.extra)
			}
			for _, dir := range []string{"c2s", "s2c"} {
				if an.delays[dir].Packets == 0 {
					t.Errorf("no %s packet matched across the points", dir)
				}
			}
		})
	}
}

// TestShiftTime checks the server clock model against hand-computed values.
func TestShiftTime(t *testing.T) {
	const t0 = int64(1_000_000_000_000)
	for _, c := range []struct {
		t, want int64
		off     int64
		ppm     float64
	}{
		{t0, t0 + 3e9, 3e9, 20},                           // at t0 only the offset
		{t0 + 10e9, t0 + 10e9 + 3e9 + 200_000, 3e9, 20},   // 10 s at 20 ppm: +200 µs
		{t0 + 10e9, t0 + 10e9 - 5e6 - 100_000, -5e6, -10}, // negative offset and drift
		{t0 + 1e9, t0 + 1e9, 0, 0},                        // identity
	} {
		if got := shiftTime(c.t, t0, time.Duration(c.off), c.ppm); got != c.want {
			t.Errorf("shiftTime(t0+%d, off %d, %g ppm) = t0+%d, want t0+%d", c.t-t0, c.off, c.ppm, got-t0, c.want-t0)
		}
	}
}

func TestFlowReason(t *testing.T) {
	s := &Scenario{C2S: Impairment{DelayMs: 60}, S2C: Impairment{DelayMs: 60}}
	for _, c := range []struct {
		conn     Conn
		c2s, s2c int
		reorder  int // retransmissions after reordering
		want     string
	}{
		{Conn{}, 0, 0, 0, BlameNone},
		{Conn{}, 0, 2, 0, BlameNetwork},
		{Conn{ServerThinkMs: 100}, 0, 0, 0, BlameServer},
		{Conn{ServerThinkMs: 100}, 1, 0, 0, BlameNetwork}, // loss between the points outranks the endpoint
		{Conn{ServerStallMs: 100}, 0, 0, 0, BlameServer},
		{Conn{ClientStallMs: 100}, 0, 0, 0, BlameClient},
		{Conn{ClientRST: true}, 0, 0, 0, BlameClient},
		{Conn{Blame: BlameNetwork}, 0, 0, 0, BlameNetwork},
		{Conn{Blame: BlameServer}, 3, 0, 0, BlameServer},
		{Conn{}, 0, 0, 2, BlameNetwork}, // needless retransmissions the reordering caused
		{Conn{ServerThinkMs: 100}, 0, 0, 1, BlameNetwork},
	} {
		f := &FlowTruth{RetransAfterReordering: DirCount{S2C: c.reorder}, ReorderedBetween: DirCount{S2C: c.reorder}}
		got, reason := flowReason(&c.conn, c.c2s, c.s2c, f, s)
		if got != c.want || reason == "" {
			t.Errorf("flowReason(%+v, %d, %d) = %q (%q), want %q", c.conn, c.c2s, c.s2c, got, reason, c.want)
		}
	}
}

// TestTagServerSharedISN gives two connections the same initial sequence
// number, as 20,000 random ones do now and then: each connection's server
// packets must stay its own, told apart by the SYN's timestamp.
func TestTagServerSharedISN(t *testing.T) {
	a := labAddrs{client: netip.MustParseAddr("10.1.0.2"), server: netip.MustParseAddr("10.2.0.2")}
	srv := netip.AddrPortFrom(a.server, 5001)
	syn := func(port uint16, tsval uint32) frame {
		return frame{TCP: true, Src: netip.AddrPortFrom(a.client, port), Dst: srv, Seq: 12345, Flags: 0x02, TSVal: tsval, HasTS: true}
	}
	span := []frame{syn(clientPort, 100), syn(clientPort+1, 200)}
	// Through NAT the server sees other ports.
	server := []frame{syn(61000, 100), syn(61001, 200)}
	tagged := tagSpan(span, a, 2)
	syns := map[synKey]int{}
	for _, tg := range tagged {
		syns[synKey{tg.f.Seq, tg.f.TSVal}] = tg.conn
	}
	got, peers := tagServer(server, a, syns)
	for i, want := range []int{0, 1} {
		if got[i].conn != want {
			t.Errorf("server SYN %d: conn %d, want %d", i, got[i].conn, want)
		}
	}
	if len(peers) != 2 {
		t.Errorf("%d peers, want 2", len(peers))
	}
}
