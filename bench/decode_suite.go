package bench

import (
	"github.com/netblame/netblame/decode"
)

// decodeFrames is how many distinct generated frames the decode suite
// cycles through (snaplen 128, as captured).
const decodeFrames = 1 << 16

// DecodeFrames returns the decode suite's input: decodeFrames frames of
// DefaultTraffic (IPv4 and IPv6, VLAN, handshakes with every option, data,
// ACKs with SACK, FINs), made once a run.
func (e *Env) DecodeFrames() [][]byte {
	if e.frames != nil {
		return e.frames
	}
	tr := NewTraffic(DefaultTraffic)
	buf := make([]byte, MaxFrame)
	arena := make([]byte, 0, decodeFrames*DefaultTraffic.Snaplen)
	offs := make([]int, 0, decodeFrames+1)
	for range decodeFrames {
		_, f, _ := tr.Next(buf)
		offs = append(offs, len(arena))
		arena = append(arena, f...)
	}
	offs = append(offs, len(arena))
	e.frames = make([][]byte, decodeFrames)
	for i := range e.frames {
		e.frames[i] = arena[offs[i]:offs[i+1]:offs[i+1]]
	}
	return e.frames
}

// DecodePackets is how many packets one run of a decode case decodes.
func (e *Env) DecodePackets() int {
	if e.Quick {
		return 1 << 20
	}
	return 1 << 22
}

func decodeSuite() Suite {
	return Suite{
		Name:     "decode",
		Doc:      "decode generated frames in place: link, VLAN, IPv4/IPv6, TCP with options, UDP (netblame decode vs gopacket DecodingLayerParser and NewPacket)",
		LibPeers: []string{"gopacket-dlp", "gopacket-newpacket"},
		Cases: func(e *Env) ([]Case, error) {
			frames := e.DecodeFrames()
			n := e.DecodePackets()
			var p decode.Packet
			return []Case{{
				Impl: "netblame", Case: "generated-mix", Packets: n,
				Run: func() error {
					mask := len(frames) - 1
					for i := range n {
						// A truncated frame is an answer, not a failure.
						_ = p.Decode(frames[i&mask], decode.LinkEthernet)
					}
					return nil
				},
			}}, nil
		},
	}
}
