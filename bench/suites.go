package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
)

// Case is one implementation measured in a suite.
type Case struct {
	Name string
	// Run is a benchmark body; every iteration processes the whole input.
	Run func(b *testing.B)
}

// Suite is one task done by netblame and its peers on the same input.
type Suite struct {
	Name  string
	Doc   string
	Cases []Case
}

// Input describes the capture a suite runs on.
type Input struct {
	Path    string
	Packets int // packets in the file, for per-packet figures
}

// Suites returns the suites over in, netblame first in each, then its
// peers. Peers that are external programs (tshark, tcpdump) are left out
// when they are not installed.
func Suites(in Input) []Suite {
	return []Suite{
		{
			Name: "read",
			Doc:  "read every packet of the file (netblame capfile vs gopacket pcapgo vs tcpdump -r)",
			Cases: withTools([]Case{
				{"netblame", in.perPacket(readNetblame)},
				{"gopacket-pcapgo", in.perPacket(readGopacket)},
				{"tcpdump", in.perPacket(command("tcpdump", "-n", "-r", in.Path, "-w", os.DevNull))},
			}),
		},
		{
			Name: "pipeline",
			Doc:  "read, decode and track every flow with TCP analysis (netblame) vs the same with gopacket and a map vs tshark -q -z conv,tcp",
			Cases: withTools([]Case{
				{"netblame", in.perPacket(pipelineNetblame)},
				{"gopacket", in.perPacket(pipelineGopacket)},
				{"tshark", in.perPacket(command("tshark", "-n", "-r", in.Path, "-q", "-z", "conv,tcp"))},
			}),
		},
	}
}

// withTools drops the cases whose external program is missing.
func withTools(cases []Case) []Case {
	out := cases[:0]
	for _, c := range cases {
		if c.Name == "tshark" || c.Name == "tcpdump" {
			if _, err := exec.LookPath(c.Name); err != nil {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// perPacket turns a function over the whole file into a benchmark body
// reporting ns/pkt and Mpps; allocations are reported per file pass.
func (in Input) perPacket(pass func(path string) error) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(fileSize(in.Path))
		// One pass before timing: the file is in the page cache and
		// one-time setup (a flow table's preallocation) is done, for
		// every case alike.
		if err := pass(in.Path); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := pass(in.Path); err != nil {
				b.Fatal(err)
			}
		}
		pkts := float64(b.N) * float64(in.Packets)
		ns := float64(b.Elapsed().Nanoseconds())
		b.ReportMetric(ns/pkts, "ns/pkt")
		b.ReportMetric(pkts/ns*1e3, "Mpps")
	}
}

// command runs an external program once a pass.
func command(name string, args ...string) func(string) error {
	return func(string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
}

func readNetblame(path string) error {
	_, err := CountPackets(path)
	return err
}

// openGopacket opens path with gopacket's pcap reader; close the file.
func openGopacket(path string) (*os.File, *pcapgo.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, r, nil
}

func readGopacket(path string) error {
	f, r, err := openGopacket(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// pipelineTable is reused by every netblame pass: a real run makes one
// table for a file, and its preallocation is not the packet path.
var pipelineTable *flowtable.Table

func pipelineNetblame(path string) error {
	if pipelineTable == nil {
		t, err := flowtable.New(flowtable.Config{Capacity: 1 << 18, Seed: 1})
		if err != nil {
			return err
		}
		pipelineTable = t
	}
	_, err := Pipeline(path, pipelineTable)
	return err
}

// gopacketFlow is what the gopacket peer keeps a flow: counters and the
// per-direction next sequence number, enough to count retransmissions as
// a hand-written gopacket analysis would.
type gopacketFlow struct {
	packets, bytes uint64
	nextSeq        [2]uint32
	retrans        uint64
}

// GopacketParser is the peer decoder of the benchmarks: gopacket's
// DecodingLayerParser over the layers netblame decodes (Ethernet, 802.1Q,
// IPv4, IPv6, TCP, UDP), its fastest API. Decode fills the layers and
// Decoded, the types of those it decoded.
type GopacketParser struct {
	Eth     layers.Ethernet
	Dot1Q   layers.Dot1Q
	IPv4    layers.IPv4
	IPv6    layers.IPv6
	TCP     layers.TCP
	UDP     layers.UDP
	Payload gopacket.Payload
	Decoded []gopacket.LayerType

	parser *gopacket.DecodingLayerParser
}

// NewGopacketParser returns a parser starting at Ethernet that skips
// layers it has no decoder for.
func NewGopacketParser() *GopacketParser {
	g := &GopacketParser{Decoded: make([]gopacket.LayerType, 0, 8)}
	g.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &g.Eth, &g.Dot1Q, &g.IPv4, &g.IPv6, &g.TCP, &g.UDP, &g.Payload)
	g.parser.IgnoreUnsupported = true
	return g
}

// Decode decodes one Ethernet frame.
func (g *GopacketParser) Decode(data []byte) error { return g.parser.DecodeLayers(data, &g.Decoded) }

// pipelineGopacket does the work a program built on gopacket does for the
// same answer: pcapgo, a DecodingLayerParser, and a map of flows keyed by
// gopacket's own flow hashes.
func pipelineGopacket(path string) error {
	f, r, err := openGopacket(path)
	if err != nil {
		return err
	}
	defer f.Close()
	g := NewGopacketParser()
	ip4, ip6, tcp := &g.IPv4, &g.IPv6, &g.TCP
	flows := make(map[uint64]*gopacketFlow)
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		_ = g.Decode(data)
		var net gopacket.Flow
		isTCP := false
		for _, lt := range g.Decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				net = ip4.NetworkFlow()
			case layers.LayerTypeIPv6:
				net = ip6.NetworkFlow()
			case layers.LayerTypeTCP:
				isTCP = true
			}
		}
		if !isTCP {
			continue
		}
		key := net.FastHash() ^ tcp.TransportFlow().FastHash()
		fl := flows[key]
		if fl == nil {
			fl = &gopacketFlow{}
			flows[key] = fl
		}
		fl.packets++
		fl.bytes += uint64(len(data))
		dir := 0
		if tcp.SrcPort < tcp.DstPort {
			dir = 1
		}
		end := tcp.Seq + uint32(len(tcp.Payload))
		if len(tcp.Payload) > 0 && int32(end-fl.nextSeq[dir]) <= 0 && fl.nextSeq[dir] != 0 {
			fl.retrans++
		} else if int32(end-fl.nextSeq[dir]) > 0 || fl.nextSeq[dir] == 0 {
			fl.nextSeq[dir] = end
		}
	}
}

// CountPackets returns the number of packets in a capture file.
func CountPackets(path string) (int, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var p capfile.Packet
	n := 0
	for {
		if err := r.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
