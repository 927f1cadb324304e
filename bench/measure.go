package bench

import (
	"fmt"
	"runtime"
	"slices"
	"time"
)

// Case is one implementation doing one suite's task on one input.
type Case struct {
	Impl string // "netblame", "gopacket-dlp", "tshark", ...
	Case string // the input or size: "pcap", "100k-flows", "generated", ...
	// Packets is how many packets (or flow updates) one Run processes.
	Packets int
	// Setup, when set, prepares the case before its warm-up (a table, an
	// input pair); its result, when positive, replaces Packets.
	Setup func() (packets int, err error)
	// Note is printed with the measurement (what the peer does and does
	// not do).
	Note string
	// Run does the work once. Measure calls it once untimed (the warm-up),
	// then once per timed run.
	Run func() error
	// Measured, when set, replaces Run for a case that measures itself
	// (live capture: CPU time per captured packet, which is not wall
	// time); it is called once a run, the first one the warm-up.
	Measured func() (RunResult, error)
	// Runs, when positive, caps the timed runs (a rate search is long).
	Runs int
	// External marks a case that runs another program: its allocations are
	// not this process's and are reported as unknown.
	External bool
	// BytesPerFlow, when set, reports a flow table's storage over its
	// capacity; without it an in-process case reports bytes_per_packet,
	// every byte allocated in the timed runs over their packets.
	BytesPerFlow func() float64
	// Drops, when set, is read after each timed run (live capture).
	Drops func() uint64
	// Skip, when not empty, is why the case is not run (a peer that is not
	// installed, a suite that needs root); it is reported, not an error.
	Skip string
	// Check, when set, runs after the timed runs and fails the case when
	// the work gave a wrong answer (correlate's verdict against the
	// generator's truth).
	Check func() error
	// Close frees what the case holds (a table, a file); called once.
	Close func()
}

// RunResult is one run of a self-measured case.
type RunResult struct {
	Packets int
	Elapsed time.Duration // the time to divide by Packets
	Drops   uint64
	Rate    float64 // packets per second of a rate search's result, or 0
	Note    string
}

// MeasureOptions says how often to run a case.
type MeasureOptions struct {
	// Runs is the number of timed runs (at least 1); the median is
	// reported.
	Runs int
	// MinRun is the least time of one timed run: a run repeats the case's
	// Run until it has taken that long, so one figure does not hang on a
	// single short pass on a shared machine. 0: one pass a run.
	MinRun time.Duration
	// now is the clock; nil means time.Now (tests replace it).
	now func() time.Time
}

// Measurement is one line of the suite's output: one case, the median of
// its timed runs. Pointer fields are null in JSON when they do not apply
// or are unknown (an external program's allocations, drops of a file
// suite). Its JSON has every key of the schema (see MarshalJSON).
type Measurement struct {
	Suite           string   `json:"suite"`
	Impl            string   `json:"impl"`
	Case            string   `json:"case"`
	Packets         int      `json:"packets"`
	NsPerPacket     *float64 `json:"ns_per_packet"`
	Mpps            *float64 `json:"mpps"`
	AllocsPerPacket *float64 `json:"allocs_per_packet"`
	BytesPerFlow    *float64 `json:"bytes_per_flow"`
	BytesPerPacket  *float64 `json:"bytes_per_packet"`
	Drops           *uint64  `json:"drops"`
	RatioToNetblame *float64 `json:"ratio_to_netblame"`
	Runs            int      `json:"runs"`
	// RunsNs is every timed run's ns per packet, in the order run.
	RunsNs []float64 `json:"runs_ns_per_packet,omitempty"`
	// RatePPS is a rate search's highest rate with 0 drops (capture).
	RatePPS *float64 `json:"rate_pps,omitempty"`
	Skipped string   `json:"skipped,omitempty"`
	Error   string   `json:"error,omitempty"`
	Note    string   `json:"note,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// Median returns the median of xs (the mean of the two middle values
// when there is an even number), or 0 for none. xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Measure runs c once untimed (warm-up: the file in the page cache, a
// table's first touch, the branch predictors), then o.Runs timed runs, and
// reports the median time per packet. Allocations are runtime.MemStats
// deltas over the timed runs divided by their packets, for in-process
// cases. A case that fails is reported with its error, not returned as
// one: the other cases of the suite still run.
func Measure(suite string, c Case, o MeasureOptions) Measurement {
	m := Measurement{Suite: suite, Impl: c.Impl, Case: c.Case, Packets: c.Packets}
	if c.Close != nil {
		defer c.Close()
	}
	if c.Skip != "" {
		m.Skipped = c.Skip
		return m
	}
	if c.Measured != nil {
		runs := max(o.Runs, 1)
		if c.Runs > 0 {
			runs = min(runs, c.Runs)
		}
		return measureSelf(m, c, runs)
	}
	if c.Packets <= 0 || c.Run == nil {
		m.Error = "no packets to measure"
		return m
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	runs := max(o.Runs, 1)
	if err := c.Run(); err != nil {
		m.Error = fmt.Sprintf("warm-up: %v", err)
		return m
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var drops uint64
	totalPasses := 0
	for range runs {
		start := now()
		var el time.Duration
		passes := 0
		for passes == 0 || el < o.MinRun {
			if err := c.Run(); err != nil {
				m.Error = err.Error()
				return m
			}
			passes++
			el = now().Sub(start)
			if c.Drops != nil {
				drops += c.Drops()
			}
		}
		totalPasses += passes
		m.RunsNs = append(m.RunsNs, float64(el.Nanoseconds())/float64(passes*c.Packets))
	}
	runtime.ReadMemStats(&after)
	m.Runs = runs
	ns := Median(m.RunsNs)
	m.NsPerPacket = ptr(round(ns, 3))
	if ns > 0 {
		m.Mpps = ptr(round(1e3/ns, 3))
	}
	pkts := float64(totalPasses) * float64(c.Packets)
	if !c.External {
		m.AllocsPerPacket = ptr(round(float64(after.Mallocs-before.Mallocs)/pkts, 4))
		if c.BytesPerFlow == nil {
			m.BytesPerPacket = ptr(round(float64(after.TotalAlloc-before.TotalAlloc)/pkts, 2))
		}
	}
	if c.BytesPerFlow != nil {
		m.BytesPerFlow = ptr(round(c.BytesPerFlow(), 1))
	}
	if c.Drops != nil {
		m.Drops = ptr(drops)
	}
	if c.Check != nil {
		if err := c.Check(); err != nil {
			m.Error = "wrong result: " + err.Error()
		}
	}
	return m
}

// round rounds v to d decimal places.
func round(v float64, d int) float64 {
	p := 1.0
	for range d {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// SetRatios fills RatioToNetblame of every measured line: its ns per
// packet over that of the "netblame" impl of the same suite and case (1
// for netblame itself). Lines without a netblame line to compare with,
// skipped lines and failed ones keep a null ratio.
func SetRatios(ms []Measurement) {
	type key struct{ suite, cas string }
	base := map[key]float64{}
	for _, m := range ms {
		if m.Impl == "netblame" && m.NsPerPacket != nil && *m.NsPerPacket > 0 {
			base[key{m.Suite, m.Case}] = *m.NsPerPacket
		}
	}
	for i := range ms {
		m := &ms[i]
		b, ok := base[key{m.Suite, m.Case}]
		if !ok || m.NsPerPacket == nil || m.Error != "" {
			continue
		}
		m.RatioToNetblame = ptr(round(*m.NsPerPacket/b, 3))
	}
}

// measureSelf measures a case that times itself: one warm-up run, then
// runs, the median of their ns per packet and the sum of their drops.
func measureSelf(m Measurement, c Case, runs int) Measurement {
	if _, err := c.Measured(); err != nil {
		m.Error = fmt.Sprintf("warm-up: %v", err)
		return m
	}
	var drops uint64
	var rates []float64
	for range runs {
		r, err := c.Measured()
		if err != nil {
			m.Error = err.Error()
			return m
		}
		if r.Packets <= 0 {
			m.Error = "no packets captured"
			return m
		}
		m.Packets = r.Packets
		m.Note = r.Note
		if r.Rate > 0 {
			rates = append(rates, r.Rate)
		}
		drops += r.Drops
		m.RunsNs = append(m.RunsNs, float64(r.Elapsed.Nanoseconds())/float64(r.Packets))
	}
	m.Runs = runs
	ns := Median(m.RunsNs)
	m.NsPerPacket = ptr(round(ns, 3))
	if ns > 0 {
		m.Mpps = ptr(round(1e3/ns, 3))
	}
	m.Drops = ptr(drops)
	if len(rates) > 0 {
		m.RatePPS = ptr(round(Median(rates), 0))
	}
	return m
}
