package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// statsOf runs analyze --stats --format json with extra arguments.
func statsOf(t *testing.T, args ...string) map[string]any {
	t.Helper()
	rows := jsonLines(t, mustRun(t, append([]string{"analyze", "--stats", "--format", "json"}, args...)...))
	if len(rows) != 1 {
		t.Fatalf("analyze --stats %v: %d rows", args, len(rows))
	}
	return rows[0]
}

func count(t *testing.T, m map[string]any, key string) int64 {
	t.Helper()
	n, err := m[key].(json.Number).Int64()
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return n
}

// TestCaptureFilterCountsAsTcpdump: analyze -f keeps as many packets of a
// shipped sample as tcpdump -r prints with the same expression.
func TestCaptureFilterCountsAsTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed: skipping the comparison with it")
	}
	for _, c := range []struct{ file, expr string }{
		{"../../samples/twopoint/nat-clock-offset/span.pcap", "tcp port 80"},
		{"../../samples/twopoint/nat-clock-offset/server.pcap", "tcp port 80"},
		{"../../samples/twopoint/clean/span.pcap", "tcp port 80"},
		{"../../samples/twopoint/clean/span.pcap", "tcp dst port 5201 and tcp[tcpflags] & tcp-ack != 0"},
		{"../../samples/twopoint/span-duplicates/span.pcap", "not arp and greater 100"},
	} {
		out, err := exec.Command("tcpdump", "-r", c.file, "-n", c.expr).Output()
		if err != nil {
			t.Fatalf("tcpdump -r %s %q: %v", c.file, c.expr, err)
		}
		want := int64(strings.Count(string(out), "\n"))
		st := statsOf(t, "-f", c.expr, c.file)
		if got := count(t, st, "packets"); got != want {
			t.Errorf("%s -f %q: %d packets, tcpdump prints %d", c.file, c.expr, got, want)
		}
		if strings.HasSuffix(c.file, "nat-clock-offset/span.pcap") && want == 0 {
			t.Errorf("%s: no packet of port 80: the sample changed", c.file)
		}
	}
}

// TestCaptureFilterVersusViewFilter: -f removes packets from the analysis
// (flows and events change), --host and --port only narrow what is
// printed (the events of the flows shown are those without the flag).
func TestCaptureFilterVersusViewFilter(t *testing.T) {
	const file = "../../samples/twopoint/clean/span.pcap"
	all := statsOf(t, file)
	noARP := statsOf(t, "-f", "not arp", file)
	if count(t, noARP, "packets") >= count(t, all, "packets") || count(t, noARP, "frames") != count(t, all, "frames") {
		t.Errorf("-f 'not arp': %v packets of %v frames; without it %v of %v",
			noARP["packets"], noARP["frames"], all["packets"], all["frames"])
	}
	// Only the client's SYNs and ACKs: the flow table sees no data, so
	// the analysis differs from the full file's.
	syns := statsOf(t, "-f", "tcp[tcpflags] & tcp-syn != 0", file)
	if count(t, syns, "tcp_flows") != count(t, all, "tcp_flows") || count(t, syns, "packets") >= count(t, all, "packets") {
		t.Errorf("-f SYNs: %v", syns)
	}
	// --port narrows the printed packets but the table sees them all:
	// the flows view for that port shows the same rows as without it.
	rows := jsonLines(t, mustRun(t, "analyze", "--format", "json", file))
	narrowed := jsonLines(t, mustRun(t, "analyze", "--format", "json", "--port", "5201", "--host", "10.201.1.2", file))
	if len(narrowed) == 0 || len(narrowed) > len(rows) {
		t.Fatalf("--port 5201: %d rows of %d", len(narrowed), len(rows))
	}
	for i, r := range narrowed {
		if r["retransmissions"] != rows[i]["retransmissions"] || r["packets_c2s"] != rows[i]["packets_c2s"] {
			t.Errorf("row %d changed under --port: %v, was %v", i, r, rows[i])
		}
	}
	// -f and --port together: packets -f refuses are never printed.
	both := statsOf(t, "-f", "tcp[tcpflags] & tcp-syn != 0", "--port", "5201", file)
	if count(t, both, "packets") > count(t, syns, "packets") {
		t.Errorf("-f with --port printed %v packets, -f alone %v", both["packets"], syns["packets"])
	}
}

// TestCaptureFilterErrors: a bad expression is an input error (exit 1)
// that points at the position; so is one the file's link type cannot
// carry.
func TestCaptureFilterErrors(t *testing.T) {
	const file = "../../samples/twopoint/clean/span.pcap"
	_, errOut, code := runCLI(t, "analyze", "-f", "tcp port 80 and", file)
	if code != exitInput || !strings.Contains(errOut, "position 15") || !strings.Contains(errOut, "^") {
		t.Errorf("exit %d, stderr %q; want exit %d and the position", code, errOut, exitInput)
	}
	_, errOut, code = runCLI(t, "analyze", "--capture-filter", "tcp port 99999", file)
	if code != exitInput || !strings.Contains(errOut, "position") {
		t.Errorf("port 99999: exit %d, stderr %q", code, errOut)
	}
}

// TestCaptureFilterMixedLinks: in a pcapng file whose interfaces differ
// in link type, -f filters each by its own; packets of a link type the
// expression cannot carry are left out and the file ends in an input
// error that says so.
func TestCaptureFilterMixedLinks(t *testing.T) {
	file := filepath.Join(sharedtest.Pcaps(t), "gopacket/le/test202.pcapng") // Ethernet and NULL
	st := statsOf(t, "-f", "ip or ip6", file)
	if count(t, st, "packets") == 0 {
		t.Errorf("-f 'ip or ip6': no packet kept of %v", st["frames"])
	}
	_, errOut, code := runCLI(t, "analyze", "--stats", "-f", "arp or ip", file)
	if code != exitInput || !strings.Contains(errOut, "link type NULL") || !strings.Contains(errOut, "position 0") {
		t.Errorf("arp on NULL: exit %d, stderr %q", code, errOut)
	}
}
