// Package benchpeer holds the benchmark peers that are Go libraries
// (gopacket): their cases for bench's suites (decoders, file readers, a
// flow map, afpacket capture) and the gopacket decoder decode's
// benchmarks compare with. The netblame binary does not link it (nor
// gopacket); cmd/netblame-bench, the same suites with these peers, and
// the tests do:
//
//	go run ./cmd/netblame-bench --quick
package benchpeer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"

	"github.com/netblame/netblame/bench"
)

// Peers adds the gopacket cases to bench's suites.
type Peers struct{}

var _ bench.Peers = Peers{}

// Cases returns gopacket's cases for the named suite.
func (Peers) Cases(suite string, env *bench.Env) ([]bench.Case, error) {
	switch suite {
	case "decode":
		return decodeCases(env), nil
	case "read":
		return readCases(env)
	case "pipeline":
		return pipelineCases(env)
	case "capture":
		return captureCases(env), nil
	}
	return nil, nil
}

func decodeCases(env *bench.Env) []bench.Case {
	frames := env.DecodeFrames()
	mask := len(frames) - 1
	n := env.DecodePackets()
	g := NewGopacketParser()
	dlp := bench.Case{
		Impl: "gopacket-dlp", Case: "generated-mix", Packets: n,
		Note: "DecodingLayerParser over Ethernet, 802.1Q, IPv4, IPv6, TCP, UDP, payload, layers reused",
		Run: func() error {
			for i := range n {
				_ = g.Decode(frames[i&mask])
			}
			return nil
		},
	}
	// NewPacket is about 100 times slower: a sixteenth of the packets.
	np := n / 16
	newPacket := bench.Case{
		Impl: "gopacket-newpacket", Case: "generated-mix", Packets: np,
		Note: "gopacket.NewPacket, Lazy and NoCopy, every layer touched",
		Run: func() error {
			for i := range np {
				p := gopacket.NewPacket(frames[i&mask], layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
				_ = p.Layers()
			}
			return nil
		},
	}
	return []bench.Case{dlp, newPacket}
}

// packetReader is what gopacket's pcap and pcapng readers share.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// openGopacket opens path with the gopacket reader for its format:
// pcapgo.Reader (which undoes gzip itself) for pcap, NgReader for pcapng,
// zstd through klauspost's decoder, as a gopacket program would. close
// releases the file.
func openGopacket(path string) (r packetReader, close func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var src io.Reader = bufio.NewReaderSize(f, 256<<10)
	closeAll := func() { f.Close() }
	br := src.(*bufio.Reader)
	magic, _ := br.Peek(4)
	if len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd {
		d, err := zstd.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		src = bufio.NewReaderSize(d, 256<<10)
		closeAll = func() { d.Close(); f.Close() }
		br = src.(*bufio.Reader)
		magic, _ = br.Peek(4)
	}
	if len(magic) == 4 && magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		return ng, closeAll, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return pr, closeAll, nil
}

// ReadAll reads every packet of path with gopacket's zero-copy API.
func ReadAll(path string) (int, error) {
	r, closeFn, err := openGopacket(path)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	n := 0
	for {
		if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

func readCases(env *bench.Env) ([]bench.Case, error) {
	files, err := env.ReadInputs()
	if err != nil {
		return nil, err
	}
	var cases []bench.Case
	for _, f := range files {
		cases = append(cases, bench.Case{
			Impl: "gopacket-pcapgo", Case: f.Case, Packets: f.Packets,
			Note: "pcapgo Reader or NgReader, ZeroCopyReadPacketData; zstd through klauspost",
			Run: func() error {
				n, err := ReadAll(f.Path)
				if err == nil && n != f.Packets {
					err = fmt.Errorf("read %d packets, want %d", n, f.Packets)
				}
				return err
			},
		})
	}
	return cases, nil
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

// gopacketFlow is what the gopacket peer keeps a flow: counters and the
// per-direction next sequence number, enough to count retransmissions as
// a hand-written gopacket analysis would.
type gopacketFlow struct {
	packets, bytes uint64
	nextSeq        [2]uint32
	retrans        uint64
}

func pipelineCases(env *bench.Env) ([]bench.Case, error) {
	files, err := env.PipelineInputs()
	if err != nil {
		return nil, err
	}
	var cases []bench.Case
	for _, f := range files {
		cases = append(cases, bench.Case{
			Impl: "gopacket-map", Case: f.Case, Packets: f.Packets,
			Note: "pcapgo, DecodingLayerParser and a map of flows by gopacket's flow hashes with sequence tracking only: far less than TCP analysis",
			Run:  func() error { return PipelineGopacket(f.Path) },
		})
	}
	return cases, nil
}

// PipelineGopacket does the work a program built on gopacket does for a
// flow table: pcapgo, a DecodingLayerParser, and a map of flows keyed by
// gopacket's own flow hashes, counting packets, bytes and retransmissions.
func PipelineGopacket(path string) error {
	r, closeFn, err := openGopacket(path)
	if err != nil {
		return err
	}
	defer closeFn()
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

// captureCases is the afpacket peer (capture.go).
var captureCases func(env *bench.Env) []bench.Case
