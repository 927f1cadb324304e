package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
)

// TestDecodeAllocs asserts that decoding never allocates, for every kind
// of packet and for malformed input (errors are static sentinels).
func TestDecodeAllocs(t *testing.T) {
	nop := []byte{1}
	synOpts := pad4(optMSS(1460), optSACKPerm(), optTS(1, 0), nop, optWS(7))
	sackOpts := cat(nop, nop, optTS(1, 2), nop, nop, optSACK(10, 20, 30, 40))
	oddOpts := pad4(optMSS(1460), nop, optWS(8), nop, nop, optSACKPerm(), []byte{30, 4, 0, 0})
	tcpWith := func(o []byte) []byte { h := baseTCP(); h.Opts = o; return h.bytes(pl4) }
	padN := []byte{1, 4, 0, 0, 0, 0}
	v6ext := baseIP6(0).bytes(ext6(43, padN, ext6(44, padN, frag6(6, 0, false, 9, tcpWith(sackOpts)))))
	udp4 := baseIP4(17).bytes(udpH{Sport: 1, Dport: 53}.bytes(pl4))
	cases := []struct {
		name string
		data []byte
		link decode.LinkType
	}{
		{"Ethernet IPv4 TCP SYN options", ether(0x0800, baseIP4(6).bytes(tcpWith(synOpts))), decode.LinkEthernet},
		{"Ethernet IPv4 TCP SACK options", ether(0x0800, baseIP4(6).bytes(tcpWith(sackOpts))), decode.LinkEthernet},
		{"Ethernet IPv4 TCP other options", ether(0x0800, baseIP4(6).bytes(tcpWith(oddOpts))), decode.LinkEthernet},
		{"802.1Q", ether(0x0800, v4TCP, tag{0x8100, 5}), decode.LinkEthernet},
		{"QinQ three tags", ether(0x86dd, v6TCP, tag{0x88a8, 1}, tag{0x8100, 2}, tag{0x8100, 3}), decode.LinkEthernet},
		{"MPLS", ether(0x8847, cat(be32(0x1ff), v4TCP)), decode.LinkEthernet},
		{"IPv6 extension headers TCP", ether(0x86dd, v6ext), decode.LinkEthernet},
		{"IPv4 UDP", ether(0x0800, udp4), decode.LinkEthernet},
		{"IPv6 ICMPv6", ether(0x86dd, baseIP6(58).bytes([]byte{128, 0, 0, 0, 1, 2, 3, 4})), decode.LinkEthernet},
		{"IPv4 later fragment", ether(0x0800, ip4{Proto: 6, FragOff: 8}.bytes(pl4)), decode.LinkEthernet},
		{"SLL", sll(4, 1, 0x0800, v4TCP), decode.LinkLinuxSLL},
		{"SLL2", sll2(0, 1, 0x86dd, v6TCP), decode.LinkLinuxSLL2},
		{"raw", v4TCP, decode.LinkRaw},
		{"IPv4 link", v4TCP, decode.LinkIPv4},
		{"NULL", nullHdr(30, binary.LittleEndian, v6TCP), decode.LinkNull},
		{"LOOP", nullHdr(2, binary.BigEndian, v4TCP), decode.LinkLoop},
		{"malformed: short link", []byte{1, 2, 3}, decode.LinkEthernet},
		{"malformed: bad IHL", ether(0x0800, ip4{Proto: 6, IHL: 3}.bytes(pl4)), decode.LinkEthernet},
		{"malformed: bad TCP offset", ether(0x0800, baseIP4(6).bytes(tcpH{DataOff: 2}.bytes(nil))), decode.LinkEthernet},
		{"malformed: TCP options", ether(0x0800, baseIP4(6).bytes(tcpWith([]byte{2, 0, 0, 0}))), decode.LinkEthernet},
		{"malformed: unknown link", v4TCP, 127},
	}
	var p decode.Packet
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, func() { _ = p.Decode(c.data, c.link) }); n != 0 {
			t.Errorf("%s: %v allocations per Decode, want 0", c.name, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.DecodeWithVLAN(cases[0].data, decode.LinkEthernet, 100) }); n != 0 {
		t.Errorf("DecodeWithVLAN: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.DecodeNetwork(v6TCP, 0x86dd) }); n != 0 {
		t.Errorf("DecodeNetwork: %v allocations, want 0", n)
	}
	// And on the real captures, every packet.
	dir := sharedtest.PcapsIfPresent()
	if dir == "" {
		return
	}
	for _, f := range allFrames(t, dir) {
		if n := testing.AllocsPerRun(5, func() { _ = p.Decode(f.Data, f.Link) }); n != 0 {
			t.Errorf("%s frame %d: %v allocations, want 0", f.File, f.Number, n)
		}
	}
}
