package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// runCLI runs netblame in-process with args and returns its stdout, stderr
// and exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = runIO(args, &o, &e)
	return o.String(), e.String(), code
}

// mustRun runs netblame and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("netblame %s: exit %d, stderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// jsonLines decodes JSON lines into maps, failing on any bad line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %q", i+1, err, line)
		}
		rows = append(rows, m)
	}
	return rows
}

// str returns a JSON row's field as a string ("" when absent).
func str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
