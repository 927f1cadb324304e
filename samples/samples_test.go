package samples

import (
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"path"
	"testing"
)

func TestPairs(t *testing.T) {
	names := Names()
	if len(names) < 3 {
		t.Fatalf("only %d pairs: %v", len(names), names)
	}
	fsys := TwoPoint()
	for _, n := range names {
		for _, f := range []string{"span.pcap", "server.pcap"} {
			b, err := fs.ReadFile(fsys, path.Join(n, f))
			if err != nil {
				t.Fatal(err)
			}
			// pcap with nanosecond timestamps, little-endian, and at least
			// a few records; small enough to ship.
			if len(b) < 24+16*10 || binary.LittleEndian.Uint32(b) != 0xa1b23c4d {
				t.Errorf("%s/%s: not a nanosecond pcap with packets (%d bytes)", n, f, len(b))
			}
			if len(b) > 150<<10 {
				t.Errorf("%s/%s: %d bytes, over 150 KB", n, f, len(b))
			}
		}
		b, err := fs.ReadFile(fsys, path.Join(n, "truth.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Scenario      string            `json:"scenario"`
			ExpectedBlame string            `json:"expected_blame"`
			PerFlowBlame  map[string]string `json:"per_flow_blame"`
			Drops         []struct {
				Dir   string `json:"dir"`
				Where string `json:"where"`
			} `json:"drops"`
			NetLostC2S int `json:"net_lost_c2s"`
			NetLostS2C int `json:"net_lost_s2c"`
			Checks     []struct {
				Name string `json:"name"`
				OK   bool   `json:"ok"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%s/truth.json: %v", n, err)
		}
		if tr.Scenario != n || tr.ExpectedBlame == "" || len(tr.PerFlowBlame) == 0 {
			t.Errorf("%s/truth.json: scenario %q, blame %q, %d flows", n, tr.Scenario, tr.ExpectedBlame, len(tr.PerFlowBlame))
		}
		lost := map[string]int{}
		for _, d := range tr.Drops {
			if d.Where == "between" {
				lost[d.Dir]++
			}
		}
		if lost["c2s"] != tr.NetLostC2S || lost["s2c"] != tr.NetLostS2C {
			t.Errorf("%s: drops list %v, totals c2s %d s2c %d", n, lost, tr.NetLostC2S, tr.NetLostS2C)
		}
		for _, c := range tr.Checks {
			if !c.OK {
				t.Errorf("%s: generator check %s failed", n, c.Name)
			}
		}
	}
}
