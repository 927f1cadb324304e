package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/tsharktest"
)

// TestDisplayFilterAgreesWithTshark: analyze -Y EXPR --summary lists the
// frames tshark -Y EXPR lists, on the shipped samples, and the flow table
// keeps only flows with such a frame.
func TestDisplayFilterAgreesWithTshark(t *testing.T) {
	tsharktest.Path(t)
	samples, _ := filepath.Glob("../../samples/twopoint/*/span.pcap")
	exprs := []string{"tcp.analysis.retransmission", "tcp.len > 1000 and tcp.srcport == 5201", "tcp.flags.syn == 1",
		"tcp.analysis.duplicate_ack or tcp.analysis.lost_segment", "frame.number in {1..5, 40}", "tcp.window_size < 30000"}
	compared := 0
	for _, file := range samples {
		for _, e := range exprs {
			rows := jsonLines(t, mustRun(t, "analyze", "--summary", "--format", "json", "-Y", e, file))
			var ours []string
			for _, r := range rows {
				ours = append(ours, str(r, "frame"))
			}
			var theirs []string
			for _, r := range tsharktest.MustFields(t, file, tsharktest.Query{Filter: e, Fields: []string{"frame.number"}}) {
				theirs = append(theirs, r[0])
			}
			compared++
			if !slices.Equal(ours, theirs) {
				t.Errorf("%s -Y %q: frames %v, tshark %v", file, e, ours, theirs)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no sample compared")
	}
	// Flows: only those with a displayed packet.
	file := "../../samples/twopoint/clean/span.pcap"
	all := jsonLines(t, mustRun(t, "analyze", "--format", "json", file))
	some := jsonLines(t, mustRun(t, "analyze", "--format", "json", "-Y", "tcp.port == 40000", file))
	if len(some) == 0 || len(some) >= len(all) {
		t.Errorf("-Y kept %d of %d flows; want some, not all", len(some), len(all))
	}
	_, errOut, code := runCLI(t, "analyze", "-Y", "tcp.prot == 1", file)
	if code != exitInput || !strings.Contains(errOut, "did you mean tcp.port") {
		t.Errorf("bad -Y: exit %d, %q", code, errOut)
	}
}
