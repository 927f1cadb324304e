package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by steps[i] on the i-th pair of calls (start, end of
// a run), so a test sets each run's duration.
func fakeClock(steps []time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	calls := 0
	return func() time.Time {
		if calls%2 == 1 && calls/2 < len(steps) {
			t = t.Add(steps[calls/2])
		}
		calls++
		return t
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{100, 1, 1, 1, 100}, 1},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if len(in) > 0 && !equal(in, tc.in) {
			t.Errorf("Median changed its input: %v", tc.in)
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMeasureWarmupAndMedian: the first run is not timed, the reported
// figure is the median of the timed runs (a slow outlier does not move
// it), and a zero-allocation case reports 0 allocations per packet.
func TestMeasureWarmupAndMedian(t *testing.T) {
	calls := 0
	c := Case{Impl: "netblame", Case: "x", Packets: 1000, Run: func() error { calls++; return nil }}
	// The clock is only read around timed runs: 3, 1 (outlier 50), 2 µs.
	clock := fakeClock([]time.Duration{3 * time.Microsecond, 50 * time.Microsecond, 2 * time.Microsecond})
	m := Measure("s", c, MeasureOptions{Runs: 3, now: clock})
	if calls != 4 {
		t.Errorf("%d calls, want 1 warm-up + 3 timed", calls)
	}
	if m.Runs != 3 || len(m.RunsNs) != 3 {
		t.Fatalf("runs %d, %v", m.Runs, m.RunsNs)
	}
	if m.NsPerPacket == nil || *m.NsPerPacket != 3 {
		t.Errorf("ns/pkt %v, want the median 3 (runs %v)", m.NsPerPacket, m.RunsNs)
	}
	if m.AllocsPerPacket == nil || *m.AllocsPerPacket > 0.01 {
		t.Errorf("allocs/pkt %v, want 0", m.AllocsPerPacket)
	}
	// A failing warm-up is reported, the timed runs are not made.
	calls = 0
	m = Measure("s", Case{Impl: "x", Packets: 1, Run: func() error { calls++; return errors.New("boom") }}, MeasureOptions{Runs: 3})
	if calls != 1 || !strings.Contains(m.Error, "boom") || m.NsPerPacket != nil {
		t.Errorf("failing case: %d calls, %+v", calls, m)
	}
	// A skipped case is not run.
	m = Measure("s", Case{Impl: "x", Skip: "not installed", Run: func() error { t.Fatal("ran"); return nil }}, MeasureOptions{})
	if m.Skipped != "not installed" {
		t.Errorf("skipped %q", m.Skipped)
	}
}

func TestSetRatios(t *testing.T) {
	ms := []Measurement{
		{Suite: "a", Impl: "netblame", Case: "x", NsPerPacket: ptr(10.0)},
		{Suite: "a", Impl: "peer", Case: "x", NsPerPacket: ptr(35.0)},
		{Suite: "a", Impl: "netblame", Case: "y", NsPerPacket: ptr(2.0)},
		{Suite: "a", Impl: "peer", Case: "y", NsPerPacket: ptr(3.0)},
		{Suite: "b", Impl: "peer", Case: "x", NsPerPacket: ptr(5.0)}, // no netblame line in b
		{Suite: "a", Impl: "gone", Case: "x", Skipped: "not installed"},
	}
	SetRatios(ms)
	want := []*float64{ptr(1.0), ptr(3.5), ptr(1.0), ptr(1.5), nil, nil}
	for i, m := range ms {
		switch {
		case want[i] == nil && m.RatioToNetblame != nil:
			t.Errorf("%d: ratio %v, want null", i, *m.RatioToNetblame)
		case want[i] != nil && (m.RatioToNetblame == nil || *m.RatioToNetblame != *want[i]):
			t.Errorf("%d: ratio %v, want %v", i, m.RatioToNetblame, *want[i])
		}
	}
}

// CheckJSONLines fails the test unless out passes ValidateJSON.
func CheckJSONLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	ms, err := ValidateJSON(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return ms
}

// TestValidateJSON: the validator rejects a missing key, a wrong ratio
// and a missing header.
func TestValidateJSON(t *testing.T) {
	h := `{"header":true,"cpu":"x","cores":2,"go":"go1","peers":{"tshark":"a","tcpdump":"b","tcptrace":"c","gopacket":"d"}}`
	good := `{"suite":"s","impl":"netblame","case":"c","packets":1,"ns_per_packet":10,"mpps":100,"allocs_per_packet":0,"bytes_per_packet":0,"drops":null,"ratio_to_netblame":1}
{"suite":"s","impl":"p","case":"c","packets":1,"ns_per_packet":25,"mpps":40,"allocs_per_packet":null,"bytes_per_packet":null,"drops":null,"ratio_to_netblame":2.5}`
	if _, err := ValidateJSON([]byte(h + "\n" + good)); err != nil {
		t.Fatalf("good output rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"no header":   good,
		"missing key": h + "\n" + strings.Replace(good, `"mpps":100,`, "", 1),
		"wrong ratio": h + "\n" + strings.Replace(good, `"ratio_to_netblame":2.5`, `"ratio_to_netblame":3`, 1),
		"both bytes":  h + "\n" + strings.Replace(good, `"bytes_per_packet":0,`, `"bytes_per_packet":0,"bytes_per_flow":1,`, 1),
		"not json":    h + "\n" + good + "\n{",
	} {
		if _, err := ValidateJSON([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRunJSON runs the decode and read suites on a small generated input
// and checks the JSON lines; netblame's cases allocate nothing per packet.
func TestRunJSON(t *testing.T) {
	var out, log bytes.Buffer
	err := Run(Config{Suites: []string{"decode", "read"}, Quick: true, Packets: 5000, Runs: 2, Log: &log}, NewWriter(&out, true))
	if err != nil {
		t.Fatal(err)
	}
	ms := CheckJSONLines(t, out.Bytes())
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m["suite"].(string)+"/"+m["impl"].(string)] = true
		if m["impl"] == "netblame" {
			if e, ok := m["error"]; ok {
				t.Errorf("%v: %v", m, e)
			}
			// Per-run setup (opening a file) is amortised over its
			// packets; the packet path itself allocates nothing.
			if a, _ := m["allocs_per_packet"].(float64); a > 0.01 {
				t.Errorf("%s/%s: %v allocs/pkt", m["suite"], m["case"], a)
			}
		}
	}
	for _, want := range []string{"decode/netblame", "read/netblame", "decode/gopacket-dlp", "read/gopacket-pcapgo", "read/tcpdump"} {
		if !seen[want] {
			t.Errorf("no %s line in:\n%s", want, out.Bytes())
		}
	}
}

func TestRunUnknownSuite(t *testing.T) {
	err := Run(Config{Suites: []string{"nope"}}, NewWriter(&bytes.Buffer{}, true))
	if !errors.Is(err, ErrConfig) {
		t.Errorf("err %v", err)
	}
}

// TestDecodeZeroAllocs: the decode and flow-table paths the suites time
// allocate nothing per packet.
func TestSuiteAllocs(t *testing.T) {
	env := &Env{Quick: true, Packets: 2000, Dir: t.TempDir()}
	for _, s := range []Suite{decodeSuite(), flowtableSuite()} {
		cases, err := s.Cases(env)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			if c.Case != "1k-flows" && s.Name == "flowtable" {
				continue
			}
			if c.Skip != "" {
				continue
			}
			if c.Setup != nil {
				if _, err := c.Setup(); err != nil {
					t.Fatal(err)
				}
			}
			if c.Impl == "go-map" {
				continue // the peer
			}
			m := Measure(s.Name, c, MeasureOptions{Runs: 1})
			if m.Error != "" || m.AllocsPerPacket == nil || *m.AllocsPerPacket > 1e-4 {
				t.Errorf("%s/%s/%s: allocs/pkt %v, error %q", s.Name, c.Impl, c.Case, m.AllocsPerPacket, m.Error)
			}
		}
	}
}

// TestCheckTwoPoint: the correlate suite's truth check passes on a right
// answer and fails on a wrong expectation.
func TestCheckTwoPoint(t *testing.T) {
	tp, err := MakeTwoPoint(BenchTwoPoint(20000))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := CorrelatePair(tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTwoPoint(rep, tp); err != nil {
		t.Fatalf("right answer rejected: %v", err)
	}
	for name, wrong := range map[string]func(*TwoPoint){
		"removed": func(w *TwoPoint) { w.Removed[0]++ },
		"offset":  func(w *TwoPoint) { w.Config.Offset += 5e6 },
		"no-loss": func(w *TwoPoint) { w.Removed = [2]int{} },
		"nat":     func(w *TwoPoint) { w.Config.Rewrite = nil; w.Config.Packets = -1 },
	} {
		w := *tp
		wrong(&w)
		if name == "nat" {
			// Without NAT the pair is matched by tuple: expecting NAT is
			// the wrong expectation here.
			plain, err := MakeTwoPoint(TwoPointConfig{Packets: 20000, Offset: 3e9, DriftPPM: 20, LossPct: 2})
			if err != nil {
				t.Fatal(err)
			}
			r2, err := CorrelatePair(plain)
			if err != nil {
				t.Fatal(err)
			}
			plain.Config.Rewrite = SNAT
			if CheckTwoPoint(r2, plain) == nil {
				t.Errorf("%s: a wrong expectation passed", name)
			}
			continue
		}
		if CheckTwoPoint(rep, &w) == nil {
			t.Errorf("%s: a wrong expectation passed", name)
		}
	}
}

// TestMeasureCheckFails: a case whose answer is wrong is a line with an
// error, not a figure to trust.
func TestMeasureCheckFails(t *testing.T) {
	c := Case{Impl: "netblame", Case: "x", Packets: 10, Run: func() error { return nil },
		Check: func() error { return errors.New("verdict none, want network") }}
	m := Measure("correlate", c, MeasureOptions{Runs: 1})
	if !strings.Contains(m.Error, "wrong result: verdict none") {
		t.Errorf("error %q", m.Error)
	}
	ms := []Measurement{m}
	SetRatios(ms)
	if ms[0].RatioToNetblame != nil {
		t.Error("a failed case got a ratio")
	}
}

// TestRunTextWithFile: text output starts with the header line, and -r
// adds a "file" case to the file suites.
func TestRunTextWithFile(t *testing.T) {
	path := t.TempDir() + "/in.pcapng"
	if _, err := WriteTraffic(path, DefaultTraffic, 2000); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Run(Config{Suites: []string{"pipeline", "filter"}, Quick: true, File: path, Packets: 2000, Runs: 1}, NewWriter(&out, false)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "# ") || !strings.Contains(lines[0], "cores") || !strings.Contains(lines[0], "tshark") {
		t.Errorf("header line %q", lines[0])
	}
	for _, want := range []string{"pipeline  netblame", "file:port", " file "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "error:") {
		t.Errorf("a case failed:\n%s", out.String())
	}
	if err := Run(Config{File: t.TempDir() + "/missing.pcap"}, NewWriter(&out, false)); !errors.Is(err, ErrConfig) {
		t.Errorf("missing -r file: %v", err)
	}
}
