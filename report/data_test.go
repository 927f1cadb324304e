package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/report"
	"github.com/netblame/netblame/samples"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestEveryEventMarked checks, on every shipped capture and at a width
// small enough that every series is reduced, that each flow's time-sequence
// plots mark exactly the events the flow table counted for it (and one
// SACK marker a packet with SACK blocks), and its window plot every zero
// window and window shrink.
func TestEveryEventMarked(t *testing.T) {
	for _, pair := range samples.Names() {
		for _, file := range []string{"span.pcap", "server.pcap"} {
			t.Run(pair+"/"+file, func(t *testing.T) {
				c, recs := collect(t, sampleBytes(t, pair, file), report.Options{Width: 20, Top: 1000}, nil)
				d := c.Data(file)
				byIndex := map[uint64]*flowtable.FlowRecord{}
				tcp := 0
				for i := range recs {
					byIndex[recs[i].Index] = &recs[i]
					if recs[i].Proto == 6 {
						tcp++
					}
				}
				if len(d.Sections) != tcp {
					t.Errorf("%d sections for %d TCP flows", len(d.Sections), tcp)
				}
				for _, s := range d.Sections {
					r := byIndex[s.Index]
					if r == nil {
						t.Fatalf("section of unknown flow %d", s.Index)
					}
					tseq := map[string]int{}
					window := map[string]int{}
					for _, p := range s.Plots {
						for _, sr := range p.Series {
							if len(sr.X) > 2*d.Width {
								t.Errorf("%s: series %q has %d points for width %d", p.ID, sr.Name, len(sr.X), d.Width)
							}
						}
						for _, m := range p.Markers {
							if m.Frame == 0 || m.Frame < r.FirstFrame || m.Frame > r.LastFrame {
								t.Errorf("%s: marker %+v outside the flow's frames %d-%d", p.ID, m, r.FirstFrame, r.LastFrame)
							}
							switch p.Kind {
							case "tseq":
								tseq[m.Kind]++
							case "window":
								window[m.Kind]++
							}
						}
					}
					for k, n := range r.Events {
						e := flowtable.Event(k)
						if tseq[e.String()] != int(n) {
							t.Errorf("flow %d: %d %s marked, the table counted %d", s.Index, tseq[e.String()], e, n)
						}
					}
					if sack := int(r.SACKPackets[0] + r.SACKPackets[1]); tseq["sack"] != sack {
						t.Errorf("flow %d: %d SACK markers, %d packets with SACK", s.Index, tseq["sack"], sack)
					}
					for _, e := range []flowtable.Event{flowtable.ZeroWindow, flowtable.WindowShrink} {
						if window[e.String()] != int(r.Events[e]) {
							t.Errorf("flow %d: window plot marks %d %s, the table counted %d", s.Index, window[e.String()], e, r.Events[e])
						}
					}
				}
			})
		}
	}
}

// TestTop keeps the sections of the most troubled flows only.
func TestTop(t *testing.T) {
	c, recs := collect(t, sampleBytes(t, "server-think", "span.pcap"), report.Options{Top: 1}, nil)
	d := c.Data("span.pcap")
	if len(d.Sections) != 1 {
		t.Fatalf("%d sections, want 1", len(d.Sections))
	}
	best := -1
	for i := range recs {
		best = max(best, report.Trouble(&recs[i]))
	}
	if got := d.Flows[0].Trouble; got != best || d.Flows[0].Index != d.Sections[0].Index {
		t.Errorf("first row trouble %d (flow %d), section flow %d; most troubled %d", got, d.Flows[0].Index, d.Sections[0].Index, best)
	}
	if len(d.Flows) != len(recs) {
		t.Errorf("%d rows for %d flows", len(d.Flows), len(recs))
	}
}

// TestFlowSelector plots only the selected flow.
func TestFlowSelector(t *testing.T) {
	sel, err := flowtable.ParseSelector("1")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := collect(t, sampleBytes(t, "clean", "span.pcap"), report.Options{Flow: &sel}, nil)
	d := c.Data("span.pcap")
	if len(d.Sections) != 1 || d.Sections[0].Index != 1 {
		t.Fatalf("sections %+v, want flow 1's only", d.Sections)
	}
}

// TestBudgetSheds drops the series of the least troubled live flows when
// the points would exceed the budget, and never the flow being added.
func TestBudgetSheds(t *testing.T) {
	c, _ := collect(t, sampleBytes(t, "clean", "span.pcap"), report.Options{Budget: 50}, nil)
	d := c.Data("span.pcap")
	if d.ShedFlows == 0 {
		t.Errorf("a budget of 50 points shed no flow's series")
	}
	if len(d.Sections)+d.ShedFlows < int(d.Totals.TCPFlows) {
		t.Errorf("%d sections and %d shed of %d TCP flows", len(d.Sections), d.ShedFlows, d.Totals.TCPFlows)
	}
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got  %s\n want %s\n(go test ./report -run Golden -update rewrites it; review the diff)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d", name, len(gl), len(wl))
	}
}

// plotData is the data behind each plot, one line a plot, for the golden
// files: series and markers as JSON.
func plotData(t *testing.T, d *report.Data) []byte {
	var b bytes.Buffer
	head := *d
	head.Sections, head.Kinds = nil, nil
	j, err := json.Marshal(head)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(j)
	b.WriteByte('\n')
	for _, s := range d.Sections {
		for _, p := range s.Plots {
			j, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// twoPoint builds a two-point report of a shipped pair, as netblame report
// does.
func twoPoint(t testing.TB, pair string, opt report.Options) *report.Data {
	capA := correlate.NewCapture("span.pcap")
	c, _ := collect(t, sampleBytes(t, pair, "span.pcap"), opt, capA)
	d := c.Data("span.pcap", "server.pcap")
	capB, err := correlate.Read("server.pcap", bytes.NewReader(sampleBytes(t, pair, "server.pcap")))
	if err != nil {
		t.Fatal(err)
	}
	rep := correlate.Correlate(capA, capB, correlate.Options{KeepTransit: true, MaxEvidence: 4096})
	report.AddBlame(d, rep, capB)
	return d
}

// TestGoldenPlots pins the data behind every plot of a one-capture and a
// two-point report, at a width of 100 so reduction shows.
func TestGoldenPlots(t *testing.T) {
	c, _ := collect(t, sampleBytes(t, "loss-s2c", "span.pcap"), report.Options{Width: 100}, nil)
	golden(t, "loss-s2c-span.jsonl", plotData(t, c.Data("span.pcap")))
	golden(t, "nat-clock-offset-two-point.jsonl", plotData(t, twoPoint(t, "nat-clock-offset", report.Options{Width: 100})))
}

// TestTwoPointLosses checks that the transit plot of the loss-s2c pair
// marks the packets correlate found lost between the points, with their
// server-side frames, and that the flow table carries the verdict.
func TestTwoPointLosses(t *testing.T) {
	d := twoPoint(t, "loss-s2c", report.Options{})
	if d.Blame == nil || d.Blame.Verdict != "network" {
		t.Fatalf("blame %+v, want verdict network", d.Blame)
	}
	if d.Flows[0].Lost == nil || d.Flows[0].Lost[1] != 3 || d.Flows[0].Verdict != "network" {
		t.Errorf("row %+v, want 3 lost s2c and verdict network", d.Flows[0])
	}
	var lost, samples int
	for _, p := range d.Sections[0].Plots {
		if p.Kind != "transit" {
			continue
		}
		for _, sr := range p.Series {
			samples += len(sr.X)
		}
		for _, m := range p.Markers {
			if m.Kind == "lost_s2c" {
				lost++
				if m.ServerFrame == 0 || m.Frame != 0 {
					t.Errorf("lost marker %+v: want a server-side frame only", m)
				}
			}
		}
	}
	if lost != 3 || samples == 0 {
		t.Errorf("transit plot: %d lost_s2c markers (want 3), %d samples", lost, samples)
	}
	// On the server-to-client time-sequence graph, each loss sits at the
	// sequence number of the retransmission that repaired it.
	var tseq []report.Marker
	retrans := map[float64]bool{}
	for _, p := range d.Sections[0].Plots {
		if p.ID != d.Sections[0].Anchor+"-tseq-s2c" {
			continue
		}
		for _, m := range p.Markers {
			switch m.Kind {
			case "lost_s2c":
				tseq = append(tseq, m)
			case "retransmission", "fast_retransmission", "out_of_order":
				retrans[m.Y] = true
			}
		}
	}
	if len(tseq) != 3 {
		t.Fatalf("%d lost_s2c markers on the s2c time-sequence graph, want 3", len(tseq))
	}
	for _, m := range tseq {
		if !retrans[m.Y] || m.Y <= 0 {
			t.Errorf("lost marker %+v is not at a retransmission's sequence number", m)
		}
	}
}
