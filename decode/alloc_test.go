package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/sharedtest"
)

// TestDecodeAllocs asserts that decoding never allocates, for every kind
// of packet and for malformed input (errors are static sentinels).
func TestDecodeAllocs(t *testing.T) {
	nop := []byte{1}
	synOpts := pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(1, 0), nop, pkttest.OptWScale(7))
	sackOpts := pkttest.Cat(nop, nop, pkttest.OptTS(1, 2), nop, nop, pkttest.OptSACK(10, 20, 30, 40))
	oddOpts := pkttest.Pad4(pkttest.OptMSS(1460), nop, pkttest.OptWScale(8), nop, nop, pkttest.OptSACKPerm(), []byte{30, 4, 0, 0})
	tcpWith := func(o []byte) []byte { h := baseTCP(); h.Opts = o; return h.Bytes(pl4) }
	padN := []byte{1, 4, 0, 0, 0, 0}
	v6ext := baseIP6(0).Bytes(pkttest.Ext6(43, padN, pkttest.Ext6(44, padN, pkttest.Frag6(6, 0, false, 9, tcpWith(sackOpts)))))
	udp4 := baseIP4(17).Bytes(pkttest.UDP{Sport: 1, Dport: 53}.Bytes(pl4))
	cases := []struct {
		name string
		data []byte
		link decode.LinkType
	}{
		{"Ethernet IPv4 TCP SYN options", pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith(synOpts))), decode.LinkEthernet},
		{"Ethernet IPv4 TCP SACK options", pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith(sackOpts))), decode.LinkEthernet},
		{"Ethernet IPv4 TCP other options", pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith(oddOpts))), decode.LinkEthernet},
		{"802.1Q", pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x8100, TCI: 5}), decode.LinkEthernet},
		{"QinQ three tags", pkttest.Ether(0x86dd, v6TCP, pkttest.Tag{TPID: 0x88a8, TCI: 1}, pkttest.Tag{TPID: 0x8100, TCI: 2}, pkttest.Tag{TPID: 0x8100, TCI: 3}), decode.LinkEthernet},
		{"MPLS", pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(0x1ff), v4TCP)), decode.LinkEthernet},
		{"IPv6 extension headers TCP", pkttest.Ether(0x86dd, v6ext), decode.LinkEthernet},
		{"IPv4 UDP", pkttest.Ether(0x0800, udp4), decode.LinkEthernet},
		{"IPv6 ICMPv6", pkttest.Ether(0x86dd, baseIP6(58).Bytes([]byte{128, 0, 0, 0, 1, 2, 3, 4})), decode.LinkEthernet},
		{"IPv4 later fragment", pkttest.Ether(0x0800, pkttest.IPv4{Proto: 6, FragOff: 8}.Bytes(pl4)), decode.LinkEthernet},
		{"SLL", pkttest.SLL(4, 1, 0x0800, v4TCP), decode.LinkLinuxSLL},
		{"SLL2", pkttest.SLL2(0, 1, 0x86dd, v6TCP), decode.LinkLinuxSLL2},
		{"raw", v4TCP, decode.LinkRaw},
		{"IPv4 link", v4TCP, decode.LinkIPv4},
		{"NULL", pkttest.Null(30, binary.LittleEndian, v6TCP), decode.LinkNull},
		{"LOOP", pkttest.Null(2, binary.BigEndian, v4TCP), decode.LinkLoop},
		{"malformed: short link", []byte{1, 2, 3}, decode.LinkEthernet},
		{"malformed: bad IHL", pkttest.Ether(0x0800, pkttest.IPv4{Proto: 6, IHL: 3}.Bytes(pl4)), decode.LinkEthernet},
		{"malformed: bad TCP offset", pkttest.Ether(0x0800, baseIP4(6).Bytes(pkttest.TCP{DataOff: 2}.Bytes(nil))), decode.LinkEthernet},
		{"malformed: TCP options", pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith([]byte{2, 0, 0, 0}))), decode.LinkEthernet},
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
