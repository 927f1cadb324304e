package correlate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/netblame/netblame/correlate"
)

// TestKeepTransit checks that Options.KeepTransit lists one sample per
// matched packet, agreeing with the flow's transit statistics, and leaves
// the JSON report as it was.
func TestKeepTransit(t *testing.T) {
	for _, name := range []string{"loss-s2c", "nat-clock-offset"} {
		t.Run(name, func(t *testing.T) {
			_, openFile := samplePair(t, name)
			correlateWith := func(opt correlate.Options) *correlate.Report {
				a, err := correlate.Read("span.pcap", openFile("span.pcap"))
				if err != nil {
					t.Fatal(err)
				}
				b, err := correlate.Read("server.pcap", openFile("server.pcap"))
				if err != nil {
					t.Fatal(err)
				}
				return correlate.Correlate(a, b, opt)
			}
			plain := correlateWith(correlate.Options{})
			kept := correlateWith(correlate.Options{KeepTransit: true})
			jp, _ := json.Marshal(plain)
			jk, _ := json.Marshal(kept)
			if string(jp) != string(jk) {
				t.Errorf("KeepTransit changed the JSON report")
			}
			if len(kept.Flows) == 0 {
				t.Fatal("no flow")
			}
			for i, fr := range kept.Flows {
				if plain.Flows[i].TransitSamples != nil {
					t.Errorf("flow %d: samples without KeepTransit", i)
				}
				var n [2]int
				lo := [2]time.Duration{1 << 62, 1 << 62}
				hi := [2]time.Duration{-1 << 62, -1 << 62}
				for _, s := range fr.TransitSamples {
					d := 1
					if s.ToServer {
						d = 0
					}
					n[d]++
					lo[d], hi[d] = min(lo[d], s.Delay), max(hi[d], s.Delay)
					if s.SpanFrame == 0 || s.ServerFrame == 0 {
						t.Errorf("flow %d: sample %+v lacks a frame", i, s)
					}
				}
				for d, st := range []correlate.Stat{fr.Transit.C2S, fr.Transit.S2C} {
					if n[d] != st.N {
						t.Errorf("flow %d dir %d: %d samples, transit N %d", i, d, n[d], st.N)
					}
					if st.N == 0 {
						continue
					}
					// The statistics are rounded to the microsecond.
					if diff := (lo[d] - st.Min).Abs(); diff > time.Microsecond {
						t.Errorf("flow %d dir %d: least sample %v, transit min %v", i, d, lo[d], st.Min)
					}
					if diff := (hi[d] - st.Max).Abs(); diff > time.Microsecond {
						t.Errorf("flow %d dir %d: greatest sample %v, transit max %v", i, d, hi[d], st.Max)
					}
				}
			}
		})
	}
}
