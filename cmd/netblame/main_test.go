package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cpuprofile writes a complete profile (pprof's format is gzipped
// protobuf), and profiling stops when the command ends, so that the next
// command in the process can profile again.
func TestCPUProfile(t *testing.T) {
	sample := filepath.Join("..", "..", "samples", "twopoint", "clean", "span.pcap")
	for i := range 2 {
		path := filepath.Join(t.TempDir(), "cpu.prof")
		mustRun(t, "analyze", "--stats", "--cpuprofile", path, sample)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		var n int64
		if err == nil {
			n, err = io.Copy(io.Discard, zr)
		}
		f.Close()
		if err != nil || n == 0 {
			t.Fatalf("run %d: profile of %d bytes, %v", i, n, err)
		}
	}
	if _, _, code := runCLI(t, "analyze", "--stats", "--cpuprofile", filepath.Join(t.TempDir(), "missing", "cpu.prof"), sample); code == exitOK {
		t.Error("an unwritable profile path did not fail the command")
	}
}

// TestVersion: --version names the program and the Go that built it.
func TestVersion(t *testing.T) {
	out := mustRun(t, "--version")
	if !strings.HasPrefix(out, "netblame ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: %q", out)
	}
}
