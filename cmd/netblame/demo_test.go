package main

import (
	"strings"
	"testing"

	"github.com/netblame/netblame/samples"
)

// TestDemo runs the demo over every shipped pair: each verdict must be the
// one the pair's ground truth expects.
func TestDemo(t *testing.T) {
	rows := jsonLines(t, mustRun(t, "demo", "--format", "json"))
	if len(rows) != len(samples.Names()) || len(rows) == 0 {
		t.Fatalf("%d rows for %d pairs", len(rows), len(samples.Names()))
	}
	for _, r := range rows {
		if str(r, "expected") == "" || str(r, "verdict") != str(r, "expected") {
			t.Errorf("pair %s: verdict %q, expected %q (%s)", str(r, "pair"), str(r, "verdict"), str(r, "expected"), str(r, "reason"))
		}
	}
	out := mustRun(t, "demo")
	if !strings.HasPrefix(out, "PAIR") || !strings.Contains(out, "loss-s2c") {
		t.Errorf("text demo output:\n%s", out)
	}
	one := mustRun(t, "demo", "server-think")
	if !strings.HasPrefix(one, "verdict: server\n") {
		t.Errorf("demo server-think:\n%s", one)
	}
	if _, errOut, code := runCLI(t, "demo", "no-such-pair"); code != exitInput || !strings.Contains(errOut, "no pair") {
		t.Errorf("demo no-such-pair: exit %d, stderr %q", code, errOut)
	}
}
