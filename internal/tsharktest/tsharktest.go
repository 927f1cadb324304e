// Package tsharktest runs tshark for the differential tests: it finds the
// program (skipping a test without it), checks its version where a test
// follows one version's rules, and reads fields frame by frame.
//
// It is for tests only; nothing in the product imports it.
package tsharktest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Path returns tshark's path, or skips t when tshark is not installed.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: the comparison with it is skipped (apt-get install tshark)")
	}
	return p
}

// Version returns tshark's version line ("TShark (Wireshark) 4.0.17 ..."),
// or skips t when tshark is missing or does not run.
func Version(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(Path(t), "--version").Output()
	if err != nil {
		t.Skipf("tshark --version: %v", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

// Need40 returns tshark's path, or skips t when it is not version 4.0:
// the flow table reproduces 4.0.17's TCP analysis, and later versions
// changed some rules.
func Need40(t testing.TB) string {
	t.Helper()
	if v := Version(t); !strings.Contains(v, "TShark (Wireshark) 4.0.") {
		t.Skipf("the analysis follows Wireshark 4.0's rules; installed: %s", v)
	}
	return Path(t)
}

// Query is what to ask tshark about a capture.
type Query struct {
	Fields []string // -e, in order
	Filter string   // -Y, when set
	// Prefs are -o settings, such as "ip.defragment:FALSE".
	Prefs []string
	// All lists every occurrence of a field joined by commas; otherwise a
	// field shows its first occurrence.
	All bool
}

// Fields runs tshark -n -r path -T fields with q and returns one row per
// frame, the values in q.Fields' order. tshark exits with an error on a
// damaged file after printing the frames before the damage: those rows
// come back without error; the error is kept for when it printed nothing.
func Fields(path string, q Query) ([][]string, error) {
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "separator=/t"}
	if q.All {
		args = append(args, "-E", "occurrence=a", "-E", "aggregator=,")
	} else {
		args = append(args, "-E", "occurrence=f")
	}
	for _, p := range q.Prefs {
		args = append(args, "-o", p)
	}
	if q.Filter != "" {
		args = append(args, "-Y", q.Filter)
	}
	for _, f := range q.Fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		row := strings.Split(line, "\t")
		if len(row) != len(q.Fields) {
			return rows, fmt.Errorf("tshark printed %d fields, want %d: %q", len(row), len(q.Fields), line)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 && runErr != nil {
		return nil, fmt.Errorf("tshark %s: %v: %s", strings.Join(args, " "), runErr, strings.TrimSpace(stderr.String()))
	}
	return rows, nil
}

// MustFields is Fields, skipping t without tshark and failing it on an
// error.
func MustFields(t testing.TB, path string, q Query) [][]string {
	t.Helper()
	Path(t)
	rows, err := Fields(path, q)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
