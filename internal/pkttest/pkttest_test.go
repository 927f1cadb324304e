package pkttest_test

import (
	"bytes"
	"io"
	"net/netip"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/ipsum"
	"github.com/netblame/netblame/internal/pkttest"
)

// TestFramesDecode: what the frame builders make, the decoder reads back
// field for field, and its checksums verify.
func TestFramesDecode(t *testing.T) {
	for _, tc := range []struct{ src, dst string }{
		{"10.0.0.1:40000", "10.0.0.2:80"},
		{"[2001:db8::1]:40000", "[2001:db8::2]:443"},
	} {
		src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		h := pkttest.TCP{Seq: 1000, Ack: 2000, Flags: pkttest.ACK | pkttest.PSH, Win: 512,
			Opts: pkttest.Pad4(pkttest.OptTS(7, 9))}
		f := pkttest.TCPFrame(src, dst, h, []byte("hello"))
		var p decode.Packet
		if err := p.Decode(f, decode.LinkEthernet); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if p.Src() != src.Addr() || p.Dst() != dst.Addr() || p.SrcPort != src.Port() || p.DstPort != dst.Port() ||
			p.Seq != 1000 || p.Ack != 2000 || p.Window != 512 || p.PayloadLen != 5 || p.TSVal != 7 || p.TSEcr != 9 ||
			p.TCPFlags != decode.TCPAck|decode.TCPPsh {
			t.Errorf("%s: decoded %+v", tc.src, p)
		}
		ipStart := 14
		if src.Addr().Is4() {
			if s := ipsum.Checksum(0, f[ipStart:ipStart+20]); s != 0 {
				t.Errorf("IPv4 header checksum does not verify (%#x)", s)
			}
		}
		u := pkttest.UDPFrame(src, dst, []byte{1, 2, 3})
		if err := p.Decode(u, decode.LinkEthernet); err != nil || p.Proto != decode.ProtoUDP || p.PayloadLen != 3 {
			t.Errorf("%s: UDP decoded %+v, %v", tc.src, p, err)
		}
	}
}

// TestFilesRead: capfile reads both file builders' output back, times and
// lengths included.
func TestFilesRead(t *testing.T) {
	f := pkttest.UDPFrame(netip.MustParseAddrPort("10.0.0.1:53"), netip.MustParseAddrPort("10.0.0.2:5353"), nil)
	recs := pkttest.Frames(1_700_000_000_123_456_789, f, f[:20])
	recs[1].OrigLen = len(f)
	for name, file := range map[string][]byte{"pcap": pkttest.Pcap(1, recs...), "pcapng": pkttest.Pcapng(1, recs...)} {
		r, err := capfile.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []capfile.Packet
		for {
			var p capfile.Packet
			if err := r.Next(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			p.Data = append([]byte(nil), p.Data...)
			got = append(got, p)
		}
		if len(got) != 2 || got[0].Timestamp != recs[0].TS || got[1].Timestamp != recs[1].TS ||
			!bytes.Equal(got[0].Data, f) || len(got[1].Data) != 20 || got[1].OrigLen != len(f) {
			t.Errorf("%s: read back %+v", name, got)
		}
	}
}
