package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestConversationsOfOtherProtocols: the conversation table has a row
// for the ICMP pings of a capture, whose packets each way are the ones
// tshark's ip.src and ip.dst give for -Y icmp, and one for its ARP
// packets, as many as tshark's -Y arp keeps.
func TestConversationsOfOtherProtocols(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	tsharktest.Path(t)
	path := filepath.Join(dir, "network-impairment/client_pings_delayed.pcap")
	rows := jsonLines(t, mustRun(t, "analyze", "--format", "json", path))
	byProto := map[string]map[string]any{}
	for _, r := range rows {
		byProto[str(r, "proto")] = r
	}
	icmp, arp := byProto["ICMP"], byProto["ARP"]
	if icmp == nil || arp == nil {
		t.Fatalf("no ICMP or ARP row in %v", rows)
	}
	var c2s, s2c int
	for _, f := range tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"ip.src", "ip.dst"}, Filter: "icmp"}) {
		switch {
		case f[0] == str(icmp, "client") && f[1] == str(icmp, "server"):
			c2s++
		case f[1] == str(icmp, "client") && f[0] == str(icmp, "server"):
			s2c++
		default:
			t.Errorf("tshark: ICMP %s → %s is not the row's conversation", f[0], f[1])
		}
	}
	if str(icmp, "packets_c2s") != itoa(c2s) || str(icmp, "packets_s2c") != itoa(s2c) {
		t.Errorf("ICMP row %v; tshark %d and %d packets", icmp, c2s, s2c)
	}
	if _, ok := icmp["index"]; ok {
		t.Errorf("ICMP row has an index: %v", icmp)
	}
	nARP := len(tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"frame.number"}, Filter: "arp"}))
	if str(arp, "packets_c2s") != itoa(nARP) {
		t.Errorf("ARP row %v; tshark -Y arp keeps %d", arp, nARP)
	}
	text := mustRun(t, "analyze", path)
	if !strings.Contains(text, "\n-    ICMP ") || !strings.Contains(text, "START_S") || strings.ContainsRune(text, 'µ') {
		t.Errorf("text table:\n%s", text)
	}
}

// TestNothingToShow: a text view with no row says so; JSON stays empty.
func TestNothingToShow(t *testing.T) {
	file := "../../samples/twopoint/clean/span.pcap"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "9"}, "0 flows match\n"},
		{[]string{"--handshake-over", "1h"}, "0 flows match\n"},
		{[]string{"--events", "--port", "9"}, "0 events match\n"},
		{[]string{"--summary", "-Y", "dns"}, "0 packets match\n"},
		{[]string{"-V", "-Y", "dns"}, "0 packets match\n"},
	} {
		if got := mustRun(t, append(append([]string{"analyze"}, c.args...), file)...); got != c.want {
			t.Errorf("analyze %v: %q, want %q", c.args, got, c.want)
		}
		if got := mustRun(t, append(append([]string{"analyze", "--format", "json"}, c.args...), file)...); got != "" && c.args[0] != "-V" {
			t.Errorf("analyze --format json %v: %q, want nothing", c.args, got)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
