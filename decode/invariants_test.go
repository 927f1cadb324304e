package decode_test

import (
	"fmt"
	"testing"

	"github.com/netblame/netblame/decode"
)

// checkInvariants asserts what must hold after any Decode, valid input or not.
func checkInvariants(tb testing.TB, p *decode.Packet, data []byte, err error) {
	tb.Helper()
	fail := func(format string, args ...any) {
		tb.Helper()
		tb.Errorf("invariant broken (err %v, layer %d, data %x): %s", err, p.Layer, data, fmt.Sprintf(format, args...))
	}
	n := len(data)
	if p.PayloadOffset < 0 || p.CapPayloadLen < 0 || p.PayloadOffset+p.CapPayloadLen > n {
		fail("payload [%d, +%d) outside %d bytes", p.PayloadOffset, p.CapPayloadLen, n)
	}
	if p.CapPayloadLen > p.PayloadLen && p.CapPayloadLen > 0 {
		fail("captured payload %d > payload %d", p.CapPayloadLen, p.PayloadLen)
	}
	if p.Layer >= decode.LayerNetwork {
		if p.NetOffset < 0 || p.NetOffset >= n {
			fail("network offset %d outside %d bytes", p.NetOffset, n)
		}
		if p.IPVersion != 4 && p.IPVersion != 6 {
			fail("IP version %d", p.IPVersion)
		}
		if !p.Src().IsValid() || !p.Dst().IsValid() {
			fail("invalid addresses %v %v", p.Src(), p.Dst())
		}
	} else if p.IPVersion != 0 || p.Src().IsValid() || p.Proto != 0 {
		fail("network fields set below decode.LayerNetwork")
	}
	if p.Layer == decode.LayerTransport {
		if p.TransOffset <= p.NetOffset || p.TransOffset >= n {
			fail("transport offset %d (net %d) outside %d bytes", p.TransOffset, p.NetOffset, n)
		}
		if p.PayloadLen < 0 {
			fail("negative payload length %d", p.PayloadLen)
		}
		if p.IsTCP() && (p.TCPHeaderLen < 20 || p.TCPHeaderLen%4 != 0) {
			fail("TCP header length %d", p.TCPHeaderLen)
		}
	} else if p.SrcPort != 0 || p.Seq != 0 || p.TCPFlags != 0 || p.TCPHeaderLen != 0 {
		fail("transport fields set below decode.LayerTransport")
	}
	if err == nil && p.Layer == decode.LayerNone {
		fail("no error but nothing decoded")
	}
	if int(p.SACKCount) > decode.MaxSACKBlocks {
		fail("SACK count %d", p.SACKCount)
	}
}
