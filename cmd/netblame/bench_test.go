package main

import (
	"testing"

	"github.com/netblame/netblame/bench"
)

// TestBenchQuickJSON runs `netblame bench --quick --suite decode,read
// --format json` end to end on a small generated input: a header, every
// line in the schema, netblame's cases measured with 0 allocations a
// packet, and the gopacket peers reported as skipped (not linked).
func TestBenchQuickJSON(t *testing.T) {
	out := mustRun(t, "bench", "--quick", "--suite", "decode,read", "--format", "json", "--packets", "5000", "--runs", "2")
	ms, err := bench.ValidateJSON([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var netblame, gopacketSkipped int
	for _, m := range ms {
		switch m["impl"] {
		case "netblame":
			netblame++
			if e, ok := m["error"]; ok {
				t.Errorf("%v: %v", m["case"], e)
			}
			if a, _ := m["allocs_per_packet"].(float64); a > 0.01 {
				t.Errorf("%s/%s: %v allocs a packet", m["suite"], m["case"], a)
			}
		case "gopacket-dlp", "gopacket-newpacket", "gopacket-pcapgo":
			if m["skipped"] != nil {
				gopacketSkipped++
			}
		}
		if s := m["suite"]; s != "decode" && s != "read" {
			t.Errorf("suite %v ran", s)
		}
	}
	if netblame != 5 || gopacketSkipped != 3 {
		t.Errorf("%d netblame lines (want decode + 4 read), %d gopacket lines skipped (want 3):\n%s", netblame, gopacketSkipped, out)
	}
	if _, _, code := runCLI(t, "bench", "--suite", "nope"); code != exitInput {
		t.Errorf("unknown suite: exit %d, want %d", code, exitInput)
	}
}
