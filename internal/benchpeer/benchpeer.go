// Package benchpeer holds the benchmark peers that are Go libraries
// (gopacket): their runners for bench's suites and the gopacket decoder
// decode's benchmarks compare with. It is internal and imported only by
// tests, so the netblame binary does not link gopacket; run the
// comparisons with
//
//	go test -run '^$' -bench Suites -benchtime 3x ./bench
//
// `netblame bench` runs the same suites without these peers.
package benchpeer

import (
	"errors"
	"io"
	"os"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netblame/netblame/bench"
)

// Suites returns bench.Suites(in) with the gopacket peer of each suite
// right after netblame's case, so a suite reads netblame, gopacket, then
// the external programs.
func Suites(in bench.Input) []bench.Suite {
	peers := map[string]bench.Case{
		"read":     {Name: "gopacket-pcapgo", Pass: readGopacket},
		"pipeline": {Name: "gopacket", Pass: pipelineGopacket},
	}
	suites := bench.Suites(in)
	for i, s := range suites {
		if c, ok := peers[s.Name]; ok {
			suites[i].Cases = slices.Insert(s.Cases, 1, c)
		}
	}
	return suites
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
