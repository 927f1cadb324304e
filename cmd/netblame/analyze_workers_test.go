package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// TestAnalyzeWorkersSameOutput: on every shared capture (and the
// repository's samples), the views that run on several workers print
// byte for byte what one worker prints, with 2 and 4, errors and exit
// status included (corrupt files: what was read, and the offset).
func TestAnalyzeWorkersSameOutput(t *testing.T) {
	files, _ := filepath.Glob("../../samples/twopoint/*/*.pcap")
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, m := range sharedtest.Manifest(t) {
			files = append(files, filepath.Join(dir, m.File))
		}
	} else {
		t.Log("../shared/pcaps not found: only the repository's samples are compared")
	}
	if p := os.Getenv("NETBLAME_BENCH_PCAP"); p != "" {
		files = append(files, p)
	}
	views := [][]string{
		{"--stats"}, {"--stats", "--format", "json"}, {"--stats", "--dedup"},
		{}, {"--format", "json"}, {"--format", "csv", "--sort", "bytes"},
		{"--handshake-over", "1us"}, {"--reset-by", "client", "--format", "json"},
		{"-f", "tcp", "--format", "json"}, {"--max-flows", "8"},
	}
	errs := 0
	for _, f := range files {
		for _, view := range views {
			args := append([]string{"analyze"}, view...)
			want, wantErr, wantCode := runCLI(t, append(args, "--workers", "1", f)...)
			if wantCode != 0 {
				errs++
			}
			for _, n := range []string{"2", "4"} {
				got, gotErr, code := runCLI(t, append(args, "--workers", n, f)...)
				if got != want || gotErr != wantErr || code != wantCode {
					t.Fatalf("%s %s --workers %s: exit %d\n%s%s\none worker: exit %d\n%s%s", f, strings.Join(view, " "), n, code, got, gotErr, wantCode, want, wantErr)
				}
			}
		}
	}
	if errs == 0 && sharedtest.PcapsIfPresent() != "" {
		t.Error("no capture failed to read: the corrupt ones are not compared")
	}
}

func TestAnalyzeWorkersFlag(t *testing.T) {
	_, stderr, code := runCLI(t, "analyze", "--workers", "-1", "../../samples/twopoint/loss-s2c/span.pcap")
	if code != 1 || !strings.Contains(stderr, "--workers") {
		t.Errorf("--workers -1: exit %d, %q; want 1 and a message about --workers", code, stderr)
	}
}
