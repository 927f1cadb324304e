package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writeTraffic writes n generated frames, and then those that close the
// connections still open, to a pcap file with gopacket's
// writer (an independent implementation, so a bug in ours cannot hide one
// in the generator) and returns its path.
func writeTraffic(t *testing.T, cfg TrafficConfig, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "traffic.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	snap := cfg.Snaplen
	if snap == 0 {
		snap = 65535
	}
	if err := w.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	tr := NewTraffic(cfg)
	buf := make([]byte, MaxFrame)
	for i := 0; ; i++ {
		if i == n {
			tr.Drain()
		}
		ts, frame, orig := tr.Next(buf)
		if frame == nil {
			break
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(frame), Length: orig}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestTrafficDecodes checks with gopacket that every generated frame is a
// well-formed TCP segment of the kind the generator promises.
func TestTrafficDecodes(t *testing.T) {
	tr := NewTraffic(DefaultTraffic)
	buf := make([]byte, MaxFrame)
	var v4, v6, vlan, syn int
	for i := range 20000 {
		_, frame, orig := tr.Next(buf)
		if len(frame) > DefaultTraffic.Snaplen || orig < len(frame) {
			t.Fatalf("frame %d: caplen %d orig %d", i, len(frame), orig)
		}
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("frame %d does not decode: %v", i, el.Error())
		}
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			t.Fatalf("frame %d has no TCP layer", i)
		}
		if tcp.SYN {
			syn++
		}
		if p.Layer(layers.LayerTypeIPv6) != nil {
			v6++
		} else {
			v4++
		}
		if p.Layer(layers.LayerTypeDot1Q) != nil {
			vlan++
		}
	}
	if v4 == 0 || v6 == 0 || vlan == 0 || syn == 0 {
		t.Fatalf("mix lacks a kind: ipv4 %d ipv6 %d vlan %d syn %d", v4, v6, vlan, syn)
	}
}

// TestTrafficAnalysis has tshark analyse a generated capture: each loss the
// generator makes must show as one lost segment and one fast
// retransmission, and nothing else may look wrong.
func TestTrafficAnalysis(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: apt-get install tshark")
	}
	cfg := DefaultTraffic
	cfg.Snaplen = 0
	cfg.Concurrent = 64
	path := writeTraffic(t, cfg, 30000)
	count := func(filter string) int {
		out, err := exec.Command("tshark", "-r", path, "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark -Y %s: %v", filter, err)
		}
		return strings.Count(string(out), "\n")
	}
	lost := count("tcp.analysis.lost_segment")
	fast := count("tcp.analysis.fast_retransmission")
	if lost == 0 {
		t.Fatal("tshark sees no lost segment: the generator made no loss")
	}
	if fast != lost {
		t.Errorf("tshark: %d lost segments but %d fast retransmissions; want one repair per loss", lost, fast)
	}
	if n := count("_ws.malformed || tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order || tcp.analysis.ack_lost_segment"); n != 0 {
		t.Errorf("tshark flags %d frames as malformed, spurious, out of order or acking unseen data", n)
	}
}
