package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/samples"
)

// Golden files pin what netblame prints today, so that any later change in
// output (a refactor that was meant to change nothing, or a deliberate
// change) shows as a diff under testdata/golden. Rewrite them with
//
//	go test ./cmd/netblame -run TestGolden -update
//
// and review the diff before committing it.
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden instead of comparing with them")

// repoRoot is the repository root as seen from this package's directory,
// where go test runs.
const repoRoot = "../.."

// goldenCaptures are the single captures whose analyze views are pinned.
// The repository ships only the two-point samples (all IPv4), so IPv6 comes
// from the shared captures.
var goldenCaptures = []struct {
	name   string // golden file stem
	shared bool   // path is under ../shared/pcaps rather than the repository
	path   string
}{
	// Clean transfer, two connections.
	{"clean-span", false, "samples/twopoint/clean/span.pcap"},
	// Losses server to client: lost segments, fast retransmission, out of order, dup ACKs.
	{"loss-s2c-span", false, "samples/twopoint/loss-s2c/span.pcap"},
	// A doubled SPAN capture: every frame twice, retransmissions galore.
	{"span-duplicates-span", false, "samples/twopoint/span-duplicates/span.pcap"},
	// Server side behind NAT, on a shifted clock, with losses.
	{"nat-clock-offset-server", false, "samples/twopoint/nat-clock-offset/server.pcap"},
	// TCP over IPv6 with atomic fragment headers.
	{"zeek-ipv6-http-atomic-frag", true, "zeek/ipv6-http-atomic-frag.pcap"},
	// Fast retransmission after three dup ACKs.
	{"zeek-retransmit-fast009", true, "zeek/retransmit-fast009.pcap"},
	// Real Linux TCP, server side of a lossy link: spurious retransmissions, long idle.
	{"curl-server-lossy", true, "network-impairment/curl_server_lossy.pcap"},
}

// goldenViews are the analyze views pinned for each capture.
var goldenViews = []struct {
	suffix string
	args   []string
}{
	{"flows.txt", nil},
	{"flows.json", []string{"--format", "json"}},
	{"stats.txt", []string{"--stats"}},
	{"stats.json", []string{"--stats", "--format", "json"}},
	{"events.txt", []string{"--events"}},
	{"events.json", []string{"--events", "--format", "json"}},
	{"summary.txt", []string{"--summary"}},
	{"summary.json", []string{"--summary", "--format", "json"}},
}

func TestGoldenAnalyze(t *testing.T) {
	pcaps := sharedtest.PcapsIfPresent()
	for _, c := range goldenCaptures {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(repoRoot, c.path)
			if c.shared {
				if pcaps == "" {
					t.Skip("../shared/pcaps (beside the repository) not found: golden files of shared captures not checked")
				}
				file = filepath.Join(pcaps, c.path)
				if _, err := os.Stat(file); err != nil {
					t.Skipf("shared capture missing: golden file not checked: %v", err)
				}
			}
			for _, v := range goldenViews {
				args := append([]string{"analyze"}, v.args...)
				args = append(args, file)
				out := mustRun(t, args...)
				checkGolden(t, filepath.Join("analyze", c.name+"."+v.suffix), normaliseGolden(out, pcaps))
			}
		})
	}
}

func TestGoldenBlame(t *testing.T) {
	names := samples.Names()
	if len(names) == 0 {
		t.Fatal("no two-point samples embedded")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repoRoot, "samples", "twopoint", name)
			out := mustRun(t, "blame", "--format", "json",
				filepath.Join(dir, "span.pcap"), filepath.Join(dir, "server.pcap"))
			checkGolden(t, filepath.Join("blame", name+".json"), normaliseGolden(out, ""))
		})
	}
}

// TestGoldenFilesUsed fails on a golden file that no case writes any more
// (a renamed capture or view), so stale files do not linger unchecked.
func TestGoldenFilesUsed(t *testing.T) {
	want := map[string]bool{}
	for _, c := range goldenCaptures {
		for _, v := range goldenViews {
			want[filepath.Join("analyze", c.name+"."+v.suffix)] = true
		}
	}
	for _, name := range samples.Names() {
		want[filepath.Join("blame", name+".json")] = true
	}
	root := filepath.Join("testdata", "golden")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !want[rel] {
			if *updateGolden {
				return os.Remove(p)
			}
			t.Errorf("%s: no golden case writes this file; delete it or run with -update", p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// normaliseGolden makes output independent of where the checkout and the
// shared folder are. The output is otherwise deterministic (it depends only
// on the capture: times are capture times, not the time of the run), but
// blame echoes its input paths ("file" in client_side and server_side), and
// those are "../../samples/..." from this package's directory and an
// absolute path for the shared folder. Paths become repository-relative,
// and the shared folder is written as ../shared, as the README names it.
func normaliseGolden(out, pcaps string) string {
	if pcaps != "" {
		out = strings.ReplaceAll(out, filepath.Dir(pcaps)+string(filepath.Separator), "../shared/")
	}
	return strings.ReplaceAll(out, repoRoot+"/samples/", "samples/")
}

// goldenMaxBytes keeps golden files reviewable; a case that outgrows it
// should use a smaller capture.
const goldenMaxBytes = 200 << 10

// checkGolden compares got with testdata/golden/rel, or writes it there
// under -update.
func checkGolden(t *testing.T, rel, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", rel)
	if len(got) > goldenMaxBytes {
		t.Errorf("%s: output is %d bytes, over the %d-byte limit for a golden file", path, len(got), goldenMaxBytes)
	}
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./cmd/netblame -run TestGolden -update)", err)
	}
	if string(want) == got {
		return
	}
	t.Errorf("%s differs from today's output (if the change is intended: go test ./cmd/netblame -run TestGolden -update)\n%s",
		path, lineDiff(string(want), got))
}

// lineDiff reports the first few differing lines between want and got; it
// is not a minimal diff, just enough to see what changed (run git diff
// after -update for the whole picture).
func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b bytes.Buffer
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		shown++
		col := 0
		for col < len(wl) && col < len(gl) && wl[col] == gl[col] {
			col++
		}
		fmt.Fprintf(&b, "line %d, from column %d:\n  want: %s\n  got:  %s\n", i+1, col+1, clip(wl, col), clip(gl, col))
	}
	if len(w) != len(g) {
		fmt.Fprintf(&b, "want %d lines, got %d\n", len(w), len(g))
	}
	return b.String()
}

// clip returns about 200 bytes of s around column col, where a line first
// differs, so that long JSON lines stay readable.
func clip(s string, col int) string {
	from := max(0, col-60)
	to := min(len(s), from+200)
	out := s[from:to]
	if from > 0 {
		out = "..." + out
	}
	if to < len(s) {
		out += "..."
	}
	return out
}
