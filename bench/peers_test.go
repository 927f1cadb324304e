package bench_test

import (
	"bytes"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/internal/benchpeer"
)

// TestRunWithPeers: with the library peers (as cmd/netblame-bench runs),
// the gopacket cases are measured, not skipped.
func TestRunWithPeers(t *testing.T) {
	var out bytes.Buffer
	cfg := bench.Config{Suites: []string{"decode", "read", "pipeline"}, Quick: true, Packets: 3000, Runs: 1, Peers: benchpeer.Peers{}}
	if err := bench.Run(cfg, bench.NewWriter(&out, true)); err != nil {
		t.Fatal(err)
	}
	ms, err := bench.ValidateJSON(out.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	measured := map[string]bool{}
	for _, m := range ms {
		if m["skipped"] == nil && m["error"] == nil {
			measured[m["suite"].(string)+"/"+m["impl"].(string)] = true
		}
		if e := m["error"]; e != nil {
			t.Errorf("%s/%s/%s: %v", m["suite"], m["impl"], m["case"], e)
		}
	}
	for _, want := range []string{"decode/gopacket-dlp", "decode/gopacket-newpacket", "read/gopacket-pcapgo", "pipeline/gopacket-map"} {
		if !measured[want] {
			t.Errorf("%s not measured:\n%s", want, out.Bytes())
		}
	}
}
