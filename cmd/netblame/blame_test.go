package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// twopointDir is ../shared/twopoint beside the repository, or skips.
type blameJSON struct {
	Verdict      string   `json:"verdict"`
	Reason       string   `json:"reason"`
	ClockOffsetS *float64 `json:"clock_offset_s"`
	ClockDrift   *float64 `json:"clock_drift_ppm"`
	ClockSource  string   `json:"clock_source"`
	Flows        []struct {
		Client      string `json:"client"`
		Server      string `json:"server"`
		Verdict     string `json:"verdict"`
		Reason      string `json:"reason"`
		LostBetween *struct {
			C2S int `json:"c2s"`
			S2C int `json:"s2c"`
		} `json:"lost_between"`
		CaptureDrops *int     `json:"capture_drops"`
		Retrans      *int     `json:"retransmissions"`
		ZeroWindowS  *float64 `json:"zero_window_s"`
		TransitMS    *struct {
			C2S struct{ Median, Max float64 } `json:"c2s"`
			S2C struct{ Median, Max float64 } `json:"s2c"`
		} `json:"transit_ms"`
		ThinkMS  *float64 `json:"think_ms"`
		Evidence []struct {
			Kind        string `json:"kind"`
			SpanFrame   int    `json:"span_frame"`
			ServerFrame int    `json:"server_frame"`
			Time        string `json:"time"`
		} `json:"evidence"`
	} `json:"flows"`
}

func runBlameJSON(t *testing.T, args ...string) blameJSON {
	t.Helper()
	out := mustRun(t, append([]string{"blame", "--format", "json"}, args...)...)
	var r blameJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("blame --format json: not one JSON object: %v\n%s", err, out)
	}
	return r
}

// TestBlameJSONShared checks the JSON report on the shared syn-loss pair
// against its ground truth: the verdict, each flow's verdict and lost
// SYNs, and that the lost SYNs are given as evidence by client-side frame.
func TestBlameJSONShared(t *testing.T) {
	dir := filepath.Join(sharedtest.TwoPoint(t), "syn-loss")
	var truth struct {
		ExpectedBlame string `json:"expected_blame"`
		Flows         []struct {
			Client, Server string
			ExpectedBlame  string                 `json:"expected_blame"`
			Drops          struct{ C2S, S2C int } `json:"impairer_drops"`
		} `json:"flows"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	raw := mustRun(t, "blame", "--format", "json", filepath.Join(dir, "span.pcap"), filepath.Join(dir, "server.pcap"))
	if !strings.Contains(raw, `"server_frame":null`) {
		t.Errorf("a packet missing from the server side is not given as \"server_frame\":null")
	}
	r := runBlameJSON(t, filepath.Join(dir, "span.pcap"), filepath.Join(dir, "server.pcap"))
	if r.Verdict != truth.ExpectedBlame || r.Reason == "" {
		t.Errorf("verdict %q reason %q, want %q with a reason", r.Verdict, r.Reason, truth.ExpectedBlame)
	}
	if r.ClockOffsetS == nil || r.ClockDrift == nil || r.ClockSource != "estimated" {
		t.Errorf("clock fields missing or not estimated: %+v", r)
	}
	if len(r.Flows) != len(truth.Flows) {
		t.Fatalf("%d flows, want %d", len(r.Flows), len(truth.Flows))
	}
	for i, tf := range truth.Flows {
		f := r.Flows[i]
		if f.Client != tf.Client || f.Server != tf.Server {
			t.Errorf("flow %d is %s -> %s, want %s -> %s", i, f.Client, f.Server, tf.Client, tf.Server)
			continue
		}
		if f.LostBetween == nil || f.CaptureDrops == nil || f.Retrans == nil || f.ZeroWindowS == nil || f.TransitMS == nil || f.ThinkMS == nil {
			t.Fatalf("flow %s lacks a required field", f.Client)
		}
		if f.Verdict != tf.ExpectedBlame || f.LostBetween.C2S != tf.Drops.C2S || f.LostBetween.S2C != tf.Drops.S2C {
			t.Errorf("flow %s: %s, lost %+v; want %s, lost %+v", f.Client, f.Verdict, *f.LostBetween, tf.ExpectedBlame, tf.Drops)
		}
		lostSYN := 0
		for _, e := range f.Evidence {
			if e.Kind == "lost_syn" {
				lostSYN++
				if e.SpanFrame == 0 || e.ServerFrame != 0 || e.Time == "" {
					t.Errorf("flow %s: lost SYN evidence %+v: want a client-side frame only", f.Client, e)
				}
			}
		}
		if lostSYN != tf.Drops.C2S {
			t.Errorf("flow %s: %d lost-SYN evidence items, want %d", f.Client, lostSYN, tf.Drops.C2S)
		}
	}
}

func TestBlameTextAndFilters(t *testing.T) {
	dir := filepath.Join(sharedtest.TwoPoint(t), "server-think-400ms")
	a, b := filepath.Join(dir, "span.pcap"), filepath.Join(dir, "server.pcap")
	out := mustRun(t, "blame", a, b)
	if !strings.HasPrefix(out, "verdict: server\n") {
		t.Errorf("text output does not start with the verdict:\n%s", out)
	}
	for _, want := range []string{"CLIENT", "10.77.1.2:40000", "10.77.1.2:40001", "evidence", "server_think"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{
		{"--port", "40001"},
		{"--flow", "10.77.2.2:5201-10.77.1.2:40001"},
		{"--flow", "10.77.1.2:40001"},
	} {
		r := runBlameJSON(t, append(args, a, b)...)
		if len(r.Flows) != 1 || r.Flows[0].Client != "10.77.1.2:40001" {
			t.Errorf("%v: flows %+v, want only 10.77.1.2:40001", args, r.Flows)
		}
	}
	if r := runBlameJSON(t, "--host", "10.9.9.9", a, b); len(r.Flows) != 0 || r.Verdict != "inconclusive" {
		t.Errorf("--host matching nothing: verdict %s with %d flows, want inconclusive with none", r.Verdict, len(r.Flows))
	}
	r := runBlameJSON(t, "--offset", "2.5ms", a, b)
	if r.ClockSource != "given" || r.ClockOffsetS == nil || *r.ClockOffsetS != 0.0025 {
		t.Errorf("--offset 2.5ms: clock %v from %q, want 0.0025 given", r.ClockOffsetS, r.ClockSource)
	}
}

// TestBlameMismatched gives two captures of different traffic that share
// addresses and ports: no connection matches, so the verdict must be
// inconclusive with a reason, not a crash or a guess.
func TestBlameMismatched(t *testing.T) {
	dir := sharedtest.TwoPoint(t)
	out, errOut, code := runCLI(t, "blame", "--format", "json", filepath.Join(dir, "server-think-400ms", "span.pcap"), filepath.Join(dir, "syn-loss", "server.pcap"))
	if code != exitWarning {
		t.Errorf("exit %d, want %d (a warning: no connection in both captures); stderr %q", code, exitWarning, errOut)
	}
	var r blameJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if r.Verdict != "inconclusive" || !strings.Contains(r.Reason, "no connection could be followed through both captures") {
		t.Errorf("verdict %q reason %q, want inconclusive: no connection in both", r.Verdict, r.Reason)
	}
}

func TestBlameUsageErrors(t *testing.T) {
	dir := filepath.Join(sharedtest.TwoPoint(t), "syn-loss")
	a := filepath.Join(dir, "span.pcap")
	for _, args := range [][]string{
		{"blame", a},
		{"blame", a, filepath.Join(dir, "no-such-file.pcap")},
		{"blame", "--format", "xml", a, a},
		{"blame", "--offset", "soon", a, a},
		{"blame", "--flow", "nonsense", a, a},
		{"blame", "--host", "nohost", a, a},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitInput || errOut == "" {
			t.Errorf("netblame %s: exit %d, stderr %q; want exit %d with a message", strings.Join(args, " "), code, errOut, exitInput)
		}
	}
}

// TestBlameSeveralFiles: a side given with -r/--server-side, or as a
// directory, is read as its files merged in time order; the verdict and
// the flows are those of the single files, and usage mistakes are input
// errors.
func TestBlameSeveralFiles(t *testing.T) {
	dir := filepath.Join("..", "..", "samples", "twopoint", "loss-s2c")
	a, b := filepath.Join(dir, "span.pcap"), filepath.Join(dir, "server.pcap")
	want := mustRun(t, "blame", "--format", "json", a, b)
	got := mustRun(t, "blame", "--format", "json", "-r", a, "--server-side", b)
	if got != want {
		t.Errorf("-r/--server-side give another report:\n%s\nwant\n%s", got, want)
	}
	sdir := t.TempDir()
	raw, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sdir, "server.pcap"), raw, 0o644)
	r := runBlameJSON(t, a, sdir)
	if r.Verdict != "network" || len(r.Flows) != 1 || r.Flows[0].LostBetween == nil || r.Flows[0].LostBetween.S2C != 3 {
		t.Errorf("server side as a directory: verdict %s, flows %+v; want network, 3 lost s2c", r.Verdict, r.Flows)
	}
	for _, args := range [][]string{
		{"blame", "-r", a},
		{"blame", "--server-side", b},
		{"blame", "-r", a, "--server-side", b, a},
		{"blame", a, t.TempDir()},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitInput || errOut == "" {
			t.Errorf("netblame %s: exit %d, stderr %q; want exit %d with a message", strings.Join(args, " "), code, errOut, exitInput)
		}
	}
}
