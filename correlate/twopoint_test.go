package correlate

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// twopointTruth is the part of a scenario's truth.json the tests check.
type twopointTruth struct {
	Scenario      string `json:"scenario"`
	ExpectedBlame string `json:"expected_blame"`
	Clock         struct {
		OffsetNS float64 `json:"server_offset_ns"`
		DriftPPM float64 `json:"drift_ppm"`
	} `json:"clock"`
	Flows []struct {
		Client        string `json:"client"`
		Server        string `json:"server"`
		ExpectedBlame string `json:"expected_blame"`
		Drops         struct {
			C2S int `json:"c2s"`
			S2C int `json:"s2c"`
		} `json:"impairer_drops"`
	} `json:"flows"`
}

func readTruth(t *testing.T, path string) twopointTruth {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr twopointTruth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tr
}

// checkAgainstTruth asserts the verdict overall and per flow, the exact
// lost-between counts per flow and direction, and the clock offset.
func checkAgainstTruth(t *testing.T, rep *Report, tr twopointTruth, offsetTol float64) {
	t.Helper()
	if string(rep.Verdict) != tr.ExpectedBlame {
		t.Errorf("verdict %s, want %s (reason: %s)", rep.Verdict, tr.ExpectedBlame, rep.Reason)
	}
	byClient := map[string]*FlowReport{}
	for i := range rep.Flows {
		byClient[rep.Flows[i].Client.String()] = &rep.Flows[i]
	}
	for _, tf := range tr.Flows {
		fr := byClient[tf.Client]
		if fr == nil {
			t.Errorf("flow %s -> %s not reported", tf.Client, tf.Server)
			continue
		}
		if string(fr.Verdict) != tf.ExpectedBlame {
			t.Errorf("flow %s: verdict %s, want %s (reason: %s)", tf.Client, fr.Verdict, tf.ExpectedBlame, fr.Reason)
		}
		if fr.LostBetween.C2S != tf.Drops.C2S || fr.LostBetween.S2C != tf.Drops.S2C {
			t.Errorf("flow %s: lost between c2s %d s2c %d, want %d %d", tf.Client,
				fr.LostBetween.C2S, fr.LostBetween.S2C, tf.Drops.C2S, tf.Drops.S2C)
		}
		if fr.CaptureDrops != 0 {
			t.Errorf("flow %s: %d capture drops, want none", tf.Client, fr.CaptureDrops)
		}
	}
	if len(rep.Flows) != len(tr.Flows) {
		t.Errorf("%d flows reported, truth has %d", len(rep.Flows), len(tr.Flows))
	}
	if d := math.Abs(rep.ClockOffset.Seconds() - tr.Clock.OffsetNS/1e9); d > offsetTol {
		t.Errorf("clock offset %.6f s, want %.6f s (off by %.3f ms)", rep.ClockOffset.Seconds(), tr.Clock.OffsetNS/1e9, d*1e3)
	}
}

func TestSharedTwopoint(t *testing.T) {
	dir := sharedtest.TwoPoint(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		sd := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sd, "truth.json")); err != nil {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			tr := readTruth(t, filepath.Join(sd, "truth.json"))
			rep, err := Files(filepath.Join(sd, "span.pcap"), filepath.Join(sd, "server.pcap"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstTruth(t, rep, tr, 1e-3)
			if t.Failed() {
				b, _ := json.MarshalIndent(rep, "", "  ")
				t.Logf("report:\n%s", b)
			}
		})
	}
	if n == 0 {
		t.Skip("no scenarios with truth.json")
	}
}
