package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// reportData extracts the JSON a report page embeds.
func reportData(t *testing.T, page []byte) map[string]any {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="report-data">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no embedded data in the page")
	}
	var d map[string]any
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReportCommand writes one-capture and two-point reports and checks
// the page is self-contained (no URL to fetch) and holds what was asked.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	pair := "../../samples/twopoint/loss-s2c/"
	for _, c := range []struct {
		name     string
		args     []string
		mode     string
		sections int
	}{
		{"one", []string{pair + "span.pcap"}, "capture", 1},
		{"two", []string{pair + "span.pcap", pair + "server.pcap"}, "two_point", 1},
		{"flow", []string{"--flow", "10.201.2.2:5201-10.201.1.2:40000", pair + "span.pcap"}, "capture", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".html")
			var stdout, stderr bytes.Buffer
			if st := runIO(append([]string{"report", "-o", out}, c.args...), &stdout, &stderr); st != exitOK {
				t.Fatalf("exit %d: %s", st, stderr.String())
			}
			page, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Match(page) || bytes.Contains(page, []byte("@import")) {
				t.Error("the page refers to something to fetch")
			}
			d := reportData(t, page)
			if d["mode"] != c.mode {
				t.Errorf("mode %v, want %s", d["mode"], c.mode)
			}
			if n := len(d["sections"].([]any)); n != c.sections {
				t.Errorf("%d sections, want %d", n, c.sections)
			}
			if c.mode == "two_point" && d["blame"].(map[string]any)["verdict"] != "network" {
				t.Errorf("blame %v, want verdict network", d["blame"])
			}
		})
	}
}

// TestReportUsage rejects bad command lines with exit status 1.
func TestReportUsage(t *testing.T) {
	pair := "../../samples/twopoint/loss-s2c/"
	out := filepath.Join(t.TempDir(), "r.html")
	for _, args := range [][]string{
		{"report", pair + "span.pcap"},                                    // no -o
		{"report", "-o", out},                                             // no file
		{"report", "-o", out, "a", "b", "c"},                              // three files
		{"report", "-o", out, "--flow", "nonsense", pair + "span.pcap"},   // bad flow
		{"report", "-o", out, "--flow", "99", pair + "span.pcap"},         // no such flow
		{"report", "-o", out, "--top", "0", pair + "span.pcap"},           // bad top
		{"report", "-o", out, filepath.Join(t.TempDir(), "missing.pcap")}, // missing file
	} {
		var stdout, stderr bytes.Buffer
		if st := runIO(args, &stdout, &stderr); st != exitInput {
			t.Errorf("%s: exit %d, want %d (%s)", strings.Join(args, " "), st, exitInput, stderr.String())
		}
	}
}
