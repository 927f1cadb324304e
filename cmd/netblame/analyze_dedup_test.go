package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/capfile"
)

// TestAnalyzeDedup doubles every packet of a real capture, as a SPAN
// mirroring both ingress and egress records it (the copy 20 µs later):
// without --dedup the copies count as tshark would count them (each a
// retransmission or duplicate ACK); with it, the connection table is the
// original's and stderr says how many copies were left out.
func TestAnalyzeDedup(t *testing.T) {
	src := filepath.Join("..", "..", "samples", "twopoint", "loss-s2c", "span.pcap")
	r, err := capfile.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doubled := filepath.Join(t.TempDir(), "doubled.pcap")
	w, err := capfile.Create(doubled, r.LinkType(), r.Snaplen())
	if err != nil {
		t.Fatal(err)
	}
	var p capfile.Packet
	n := 0 // IP packets: ARP has nothing to tell copies apart by
	for r.Next(&p) == nil {
		for _, ts := range []int64{p.Timestamp, p.Timestamp + 20e3} {
			if err := w.WritePacket(ts, p.Data, p.OrigLen); err != nil {
				t.Fatal(err)
			}
		}
		if len(p.Data) > 14 && p.Data[12] == 0x08 && p.Data[13] == 0x00 {
			n++
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	table := func(args ...string) (string, string) {
		out, errOut, code := runCLI(t, append([]string{"analyze", "--format", "csv"}, args...)...)
		if code != exitOK {
			t.Fatalf("analyze %v: exit %d: %s", args, code, errOut)
		}
		return out, errOut
	}
	orig, _ := table(src)
	plain, _ := table(doubled)
	dedup, note := table("--dedup", doubled)
	if plain == orig {
		t.Error("the doubled capture's table equals the original's without --dedup: the copies were not counted")
	}
	// Frame numbers differ (the doubled file has twice as many).
	// ARP's conversation row is left out: dedup tells copies apart by
	// their IP header, and ARP has none (see n).
	if unframed(ipRows(dedup)) != unframed(ipRows(orig)) {
		t.Errorf("with --dedup the table differs from the original's:\n%s\nwant\n%s", dedup, orig)
	}
	if want := "left out " + strconv.Itoa(n) + " capture duplicate"; !strings.Contains(note, want) {
		t.Errorf("stderr %q, want it to say %q", note, want)
	}
}

// unframed drops the FIRST_FRAME and LAST_FRAME columns of a CSV table.
func unframed(csv string) string {
	var out []string
	for _, line := range strings.Split(csv, "\n") {
		f := strings.Split(line, ",")
		if len(f) > 9 {
			f = append(f[:8], f[10:]...)
		}
		out = append(out, strings.Join(f, ","))
	}
	return strings.Join(out, "\n")
}

// ipRows keeps a CSV flow table's header and its rows of IP conversations
// (a client address), dropping those of EtherTypes without IP.
func ipRows(csv string) string {
	var keep []string
	for i, line := range strings.Split(csv, "\n") {
		if cells := strings.Split(line, ","); i == 0 || len(cells) > 2 && cells[2] != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
