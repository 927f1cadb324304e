package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/tsharktest"
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

// tsharkCount runs tshark once over path and returns, for each
// tcp.analysis flag, the number of frames that carry it, and the number of
// TCP streams.
func tsharkCount(t *testing.T, path string, flags ...string) (counts map[string]uint64, streams int) {
	t.Helper()
	fields := []string{"tcp.stream", "_ws.malformed"}
	for _, f := range flags {
		fields = append(fields, "tcp.analysis."+f)
	}
	rows := tsharktest.MustFields(t, path, tsharktest.Query{Fields: fields})
	counts = map[string]uint64{}
	seen := map[string]bool{}
	for _, cols := range rows {
		seen[cols[0]] = true
		if cols[1] != "" {
			counts["malformed"]++
		}
		for i, f := range flags {
			if cols[2+i] != "" {
				counts[f]++
			}
		}
	}
	return counts, len(seen)
}

// TestTrafficAnalysis has tshark analyse a generated capture: each loss the
// generator makes must show as one lost segment and one fast
// retransmission, and nothing else may look wrong.
func TestTrafficAnalysis(t *testing.T) {
	cfg := DefaultTraffic
	cfg.Snaplen = 0
	cfg.Concurrent = 64
	counts, _ := tsharkCount(t, writeTraffic(t, cfg, 10000),
		"lost_segment", "fast_retransmission", "spurious_retransmission", "out_of_order", "ack_lost_segment")
	if counts["lost_segment"] == 0 {
		t.Fatal("tshark sees no lost segment: the generator made no loss")
	}
	if counts["fast_retransmission"] != counts["lost_segment"] {
		t.Errorf("tshark: %d lost segments but %d fast retransmissions; want one repair per loss",
			counts["lost_segment"], counts["fast_retransmission"])
	}
	for _, bad := range []string{"malformed", "spurious_retransmission", "out_of_order", "ack_lost_segment"} {
		if counts[bad] != 0 {
			t.Errorf("tshark flags %d frames as %s", counts[bad], bad)
		}
	}
}

// TestPipelineAgreesWithTshark runs the benchmarked pipeline over generated
// traffic and checks what it counted against tshark on the same file, so
// the benchmark measures work that gives the right answer.
func TestPipelineAgreesWithTshark(t *testing.T) {
	cfg := DefaultTraffic
	cfg.Concurrent = 64
	path := filepath.Join(t.TempDir(), "traffic.pcap")
	n, err := WriteTraffic(path, cfg, 10000)
	if err != nil {
		t.Fatal(err)
	}
	table, err := flowtable.New(flowtable.Config{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Pipeline(path, table)
	if err != nil {
		t.Fatal(err)
	}
	if res.Packets != uint64(n) {
		t.Fatalf("pipeline read %d packets, %d written", res.Packets, n)
	}
	events := []flowtable.Event{flowtable.LostSegment, flowtable.FastRetransmission, flowtable.DuplicateAck}
	names := make([]string, len(events))
	for i, ev := range events {
		names[i] = ev.String()
	}
	counts, streams := tsharkCount(t, path, names...)
	for _, ev := range events {
		if got, want := res.Table.FilterCount(ev), counts[ev.String()]; got != want {
			t.Errorf("%s: pipeline counted %d, tshark %d", ev, got, want)
		}
	}
	if res.Table.TCPFlows != uint64(streams) {
		t.Errorf("pipeline tracked %d TCP flows, tshark %d streams", res.Table.TCPFlows, streams)
	}
}
