package netlab

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needLab skips t when the lab cannot run here (not root, tools missing).
func needLab(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("netlab unavailable: %v", err)
	}
}

func runScenario(t *testing.T, dir string, s Scenario) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	res, err := Run(ctx, dir, s)
	if *keepDir != "" {
		if err := os.CopyFS(filepath.Join(*keepDir, s.Name), os.DirFS(dir)); err != nil {
			t.Log(err)
		}
	}
	if err != nil {
		dropped := false
		if res != nil {
			for _, c := range res.Truth.Checks {
				t.Logf("check %v %s: %s", c.OK, c.Name, c.Detail)
				dropped = dropped || c.Name == "kernel_drops==0" && !c.OK
			}
		}
		if dropped {
			// The capturing tcpdump itself lost packets (the machine was
			// too busy for it): the files cannot be checked against the
			// truth, and every later check fails for that one reason.
			t.Skipf("Run(%s): the lab's own captures dropped packets in the kernel, so its truth cannot be checked (machine overloaded): %v", s.Name, err)
		}
		t.Fatalf("Run(%s): %v", s.Name, err)
	}
	return res
}

// TestScenarios runs every named scenario and checks that its ground truth
// agrees with the capture files on disk and with what the scenario asked
// for. Run already refuses a truth whose own checks fail; the assertions
// here recompute the main ones from the written files.
func TestScenarios(t *testing.T) {
	needLab(t)
	// Three at a time: most of a run is waiting (process start-up,
	// sleeps, delays), and the suite must stay near a minute on a busy
	// two-core machine.
	sem := make(chan struct{}, 3)
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := t.TempDir()
			res := runScenario(t, dir, s)
			tr, err := ReadTruth(res.TruthPath)
			if err != nil {
				t.Fatal(err)
			}
			span, _, _, err := readFrames(res.SpanPcap)
			if err != nil {
				t.Fatalf("span.pcap: %v", err)
			}
			server, _, _, err := readFrames(res.ServerPcap)
			if err != nil {
				t.Fatalf("server.pcap: %v", err)
			}
			rawSpan, _, _, _ := readFrames(filepath.Join(dir, "raw-span.pcap"))
			rawServer, _, _, _ := readFrames(filepath.Join(dir, "raw-server.pcap"))
			if len(span) == 0 || len(server) == 0 {
				t.Fatalf("empty capture: span %d, server %d packets", len(span), len(server))
			}
			if tr.ExpectedBlame != s.ExpectedBlame || len(tr.Flows) != len(s.Conns) || len(tr.PerFlowBlame) != len(s.Conns) {
				t.Errorf("truth blame %q with %d flows, %d per-flow verdicts; scenario %q with %d conns",
					tr.ExpectedBlame, len(tr.Flows), len(tr.PerFlowBlame), s.ExpectedBlame, len(s.Conns))
			}

			// Loss between the points equals the impairer's own drops
			// (plus the bottleneck's, which tc counts).
			var imp [2]int
			for _, d := range tr.ImpairerDrops {
				if d.Dir == "c2s" {
					imp[0]++
				} else {
					imp[1]++
				}
			}
			if tr.NetLostC2S != imp[0]+tbfLost(tr, "c2s") || tr.NetLostS2C != imp[1]+tbfLost(tr, "s2c") {
				t.Errorf("lost between c2s %d s2c %d; impairer c2s %d s2c %d, tbf c2s %d s2c %d",
					tr.NetLostC2S, tr.NetLostS2C, imp[0], imp[1], tbfLost(tr, "c2s"), tbfLost(tr, "s2c"))
			}
			var rawImp impairerResult
			if err := readJSON(filepath.Join(dir, "impairer.json"), &rawImp); err != nil {
				t.Fatal(err)
			}
			if len(rawImp.Drops) != len(tr.ImpairerDrops) {
				t.Errorf("impairer log has %d drops, truth %d", len(rawImp.Drops), len(tr.ImpairerDrops))
			}
			// The decision logs hold one line per packet the impairer saw,
			// and their drops are the truth's.
			runDir := dir
			for _, d := range []string{"c2s", "s2c"} {
				b, err := os.ReadFile(filepath.Join(runDir, "impairer-"+d+".tsv"))
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
				drops := 0
				for _, l := range lines {
					if strings.Contains(l, "\tdrop:") {
						drops++
					}
				}
				want := imp[0]
				if d == "s2c" {
					want = imp[1]
				}
				if len(lines) != tr.ImpairerStats[d].Packets || drops != want {
					t.Errorf("%s decision log: %d lines, %d drops; stats %d packets, truth %d drops",
						d, len(lines), drops, tr.ImpairerStats[d].Packets, want)
				}
			}
			// Every c2s drop was seen at the span point (its frame there
			// is the same segment), every s2c drop at the server; with
			// offloads on, as one wire segment of a super-segment.
			wireSpan, wireServer := wireSegments(span), wireSegments(server)
			piece := func(ws []frame, num int, seq uint32) *frame {
				for i := range ws {
					if ws[i].Num == num && ws[i].Seq == seq {
						return &ws[i]
					}
				}
				return nil
			}
			for _, d := range tr.Drops {
				var f *frame
				switch {
				case d.Where == "between" && d.Dir == "c2s" && d.SpanFrame > 0:
					f = piece(wireSpan, d.SpanFrame, d.Seq)
				case d.ServerFrame > 0:
					f = piece(wireServer, d.ServerFrame, d.Seq)
				}
				if f == nil || f.Seq != d.Seq || f.PayLen != d.Len || f.IPID != d.IPID || f.Flags != d.Flags {
					t.Errorf("drop %+v: frame in the file does not match", d)
				}
			}
			// Offload flags say which file holds super-segments; packet
			// counts stay frames of the files.
			if tr.Offload["server"] != hasSuperSegments(server) || tr.Offload["span"] != hasSuperSegments(span) ||
				(s.ServerOffloads && !tr.Offload["server"]) || (!s.ServerOffloads && tr.Offload["server"]) ||
				(!s.ClientOffloads && tr.Offload["span"]) {
				t.Errorf("offload %v; server offloads %v, client offloads %v", tr.Offload, s.ServerOffloads, s.ClientOffloads)
			}
			if tr.Captures["span"].Packets != len(span) || tr.Captures["server"].Packets != len(server) {
				t.Errorf("capture packets %d/%d, files %d/%d", tr.Captures["span"].Packets, tr.Captures["server"].Packets, len(span), len(server))
			}
			serverPkts, dups := 0, 0
			for _, f := range tr.Flows {
				serverPkts += f.ServerPackets
				dups += f.SpanDuplicates
			}
			if serverPkts > len(server) || dups != tr.CaptureDuplicates["span"] || tr.CaptureDuplicates["server"] != 0 {
				t.Errorf("flows hold %d server frames of %d, %d span duplicates; truth %v", serverPkts, len(server), dups, tr.CaptureDuplicates)
			}

			// Span-capture drops are gone from span.pcap and only from it.
			kept := len(span)
			if s.SpanDuplicates {
				// Every kept frame twice, the copy next and 20 µs later
				// with the same bytes.
				kept /= 2
				if tr.CaptureDuplicates["span"] == 0 || len(span)%2 != 0 {
					t.Errorf("span duplicates written, %d in the truth, %d frames", tr.CaptureDuplicates["span"], len(span))
				}
				for i := 0; i+1 < len(span); i += 2 {
					if span[i+1].TS-span[i].TS != 20e3 || string(span[i].Data) != string(span[i+1].Data) {
						t.Errorf("span frames %d and %d are not a copy 20 µs later", i+1, i+2)
						break
					}
				}
			} else if tr.CaptureDuplicates["span"] != 0 {
				t.Errorf("%d span duplicates without SpanDuplicates", tr.CaptureDuplicates["span"])
			}
			if len(rawSpan)-kept != tr.CaptureDrops || len(rawServer) != len(server) {
				t.Errorf("span %d->%d frames with %d capture drops; server %d->%d",
					len(rawSpan), len(span), tr.CaptureDrops, len(rawServer), len(server))
			}
			// The server clock shift is applied as recorded.
			for _, i := range []int{0, len(server) - 1} {
				want := shiftTime(rawServer[i].TS, tr.Clock.T0Ns, time.Duration(tr.Clock.OffsetNs), tr.Clock.DriftPPM)
				if server[i].TS != want {
					t.Errorf("server frame %d at %d, want %d", i+1, server[i].TS, want)
				}
			}
			if tr.Clock.OffsetNs != int64(s.ClockOffset) || tr.ClockOffsetS != s.ClockOffset.Seconds() {
				t.Errorf("clock offset %d ns (%g s), scenario %v", tr.Clock.OffsetNs, tr.ClockOffsetS, s.ClockOffset)
			}
			if s.NAT {
				if len(tr.NAT) != len(s.Conns) {
					t.Fatalf("%d NAT mappings for %d conns", len(tr.NAT), len(s.Conns))
				}
				for _, m := range tr.NAT {
					if m.SpanClient == m.ServerClient || m.SpanServer == m.ServerServer {
						t.Errorf("NAT mapping leaves a tuple unchanged: %+v", m)
					}
					if !seesEndpoint(span, m.SpanClient) || seesEndpoint(server, m.SpanClient) || !seesEndpoint(server, m.ServerClient) {
						t.Errorf("mapping %+v does not match the files", m)
					}
				}
			}
			if s.IPv6 && !span[len(span)/2].V6 && !server[len(server)/2].V6 {
				t.Errorf("IPv6 scenario without IPv6 packets")
			}
			for _, d := range []struct {
				dir string
				imp Impairment
			}{{"c2s", s.C2S}, {"s2c", s.S2C}} {
				if m := tr.MeasuredDelay[d.dir]; m.Packets == 0 || m.Min < float64(d.imp.DelayMs) {
					t.Errorf("%s one-way delay %+v, configured %d ms", d.dir, m, d.imp.DelayMs)
				}
			}
		})
	}
}

// tbfLost counts the drops truth attributes to a TBF bottleneck.
func tbfLost(tr *Truth, dir string) int {
	n := 0
	for _, d := range tr.Drops {
		if d.Reason == "tbf" && d.Dir == dir {
			n++
		}
	}
	return n
}

func seesEndpoint(fs []frame, ep string) bool {
	for i := range fs {
		if fs[i].TCP && (fs[i].Src.String() == ep || fs[i].Dst.String() == ep) {
			return true
		}
	}
	return false
}

// TestRunCleansUp checks that no namespace of this process survives a run
// that fails, before building (an invalid scenario) or part way.
func TestRunCleansUp(t *testing.T) {
	needLab(t)
	s := Scenario{Name: "bad-mode", Conns: []Conn{{Mode: "teleport"}}}
	if _, err := Run(context.Background(), t.TempDir(), s); err == nil {
		t.Fatal("Run accepted an unknown mode")
	}
	// A run cancelled while its client is still stalled must fail and
	// still remove its namespaces and stop its processes.
	s = Scenario{Name: "cancelled", ExpectedBlame: BlameClient,
		Conns: []Conn{{Mode: "bulk", Bytes: 1 << 20, ClientStallMs: 5000}}}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, t.TempDir(), s); err == nil {
		t.Fatal("Run succeeded although its context expired")
	}
	if left := ownNamespaces(t); len(left) > 0 {
		t.Fatalf("namespaces left behind: %v", left)
	}
}

func ownNamespaces(t *testing.T) []string {
	out, err := output(context.Background(), "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if m := staleNS.FindStringSubmatch(f[0]); m != nil && m[1] == strconv.Itoa(os.Getpid()) {
			own = append(own, f[0])
		}
	}
	return own
}

func TestScenarioList(t *testing.T) {
	want := []string{"clean", "loss-c2s", "loss-s2c", "syn-loss", "congestion", "server-think", "server-recv-stall",
		"client-recv-stall", "client-reset", "nat", "ipv6", "clock-offset-3s-20ppm", "snaplen-96", "span-capture-drops",
		"offload-server", "offload-server-loss", "offload-both", "span-duplicates", "span-duplicates-loss", "reorder", "duplicate", "many-connections", "delay"}
	var got []string
	for _, s := range Scenarios() {
		got = append(got, s.Name)
		if err := validate(&s); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		switch s.ExpectedBlame {
		case BlameNetwork, BlameServer, BlameClient, BlameNone:
		default:
			t.Errorf("%s: expected blame %q", s.Name, s.ExpectedBlame)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scenarios %v, want %v", got, want)
	}
}
