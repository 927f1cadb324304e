package decode_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
)

// gpView is what gopacket's layers say about the outermost IP datagram.
type gpView struct {
	vlans []uint16
	ip4   *layers.IPv4
	ip6   *layers.IPv6
	frag6 bool // an IPv6 fragment header: gopacket decodes no transport past it
	tcp   *layers.TCP
	udp   *layers.UDP
}

// gopacketView decodes data with gopacket and picks the layers of the
// outermost IP datagram: the transport must directly follow that IP header
// or its IPv6 extension headers (so tunnels and ICMP-quoted headers, which
// netblame does not follow, are not mistaken for it).
//
// gopacket adds a layer to the packet before it finds the layer malformed,
// and reports a failure of a later (application) layer the same way, so
// each IP, TCP and UDP layer is decoded again on its own from the bytes
// gopacket gave it, and kept only when that succeeds.
func gopacketView(data []byte, link decode.LinkType) gpView {
	var v gpView
	lt := layers.LinkType(link)
	switch link {
	case decode.LinkIPv4, decode.LinkIPv6, decode.LinkRawDLT12, decode.LinkRawDLT14:
		lt = layers.LinkTypeRaw // gopacket decodes raw IP only as 101
	}
	pkt := gopacket.NewPacket(data, lt, gopacket.NoCopy)
	ls := pkt.Layers()
	input := func(i int) []byte { // what gopacket fed layer i
		if i == 0 {
			return data
		}
		return ls[i-1].LayerPayload()
	}
	ipSeen := false
	for i, l := range ls {
		switch l.(type) {
		case *layers.Dot1Q:
			if !ipSeen {
				v.vlans = append(v.vlans, l.(*layers.Dot1Q).VLANIdentifier)
			}
		case *layers.IPv4:
			if ipSeen {
				return v
			}
			ipSeen = true
			ip := new(layers.IPv4)
			if ip.DecodeFromBytes(input(i), gopacket.NilDecodeFeedback) != nil {
				return v
			}
			v.ip4 = ip
		case *layers.IPv6:
			if ipSeen {
				return v
			}
			ipSeen = true
			ip := new(layers.IPv6)
			if ip.DecodeFromBytes(input(i), gopacket.NilDecodeFeedback) != nil {
				return v
			}
			v.ip6 = ip
		case *layers.IPv6HopByHop, *layers.IPv6Routing, *layers.IPv6Destination:
		case *layers.IPv6Fragment:
			v.frag6 = true
		case *layers.TCP:
			if ipSeen {
				t := new(layers.TCP)
				if t.DecodeFromBytes(input(i), gopacket.NilDecodeFeedback) == nil {
					v.tcp = t
				}
			}
			return v
		case *layers.UDP:
			if ipSeen {
				u := new(layers.UDP)
				if u.DecodeFromBytes(input(i), gopacket.NilDecodeFeedback) == nil {
					v.udp = u
				}
			}
			return v
		default:
			if ipSeen {
				return v
			}
		}
	}
	return v
}

// TestGopacketDifferential decodes every packet of every shared capture and
// compares each field with gopacket's layers.
func TestGopacketDifferential(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	counts := manifestCounts(t, dir)
	for _, name := range captureFiles(t, dir) {
		t.Run(name, func(t *testing.T) {
			frames, total, rerr := readCapture(filepath.Join(dir, name))
			if want, ok := counts[name]; ok && total != want {
				t.Errorf("read %d frames (read error %v), MANIFEST.tsv says %d", total, rerr, want)
			}
			var p decode.Packet
			var nTCP, nUDP, nErr int
			for _, f := range frames {
				err := p.Decode(f.Data, f.Link)
				if err != nil {
					nErr++
				}
				checkInvariants(t, &p, f.Data, err)
				diffs := compareGopacket(&p, err, f.Data, gopacketView(f.Data, f.Link))
				for _, d := range diffs {
					t.Errorf("frame %d: %s", f.Number, d)
				}
				nTCP += b2i(p.IsTCP())
				nUDP += b2i(p.IsUDP())
			}
			t.Logf("%d packets (read error: %v): %d TCP, %d UDP, %d decode errors", len(frames), rerr, nTCP, nUDP, nErr)
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareGopacket lists the differences between p and gopacket's view.
func compareGopacket(p *decode.Packet, err error, data []byte, g gpView) []string {
	var d []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			d = append(d, fmt.Sprintf("%s: netblame %v, gopacket %v", what, got, want))
		}
	}
	if g.ip4 == nil && g.ip6 == nil {
		if p.Layer >= decode.LayerNetwork {
			d = append(d, fmt.Sprintf("netblame decoded IPv%d (err %v), gopacket found no IP", p.IPVersion, err))
		}
		return d
	}
	if p.Layer < decode.LayerNetwork {
		// gopacket is lenient where netblame reports a malformed header.
		if err == nil {
			d = append(d, "gopacket decoded IP, netblame did not and gave no error")
		}
		return d
	}
	if len(g.vlans) > 0 || p.VLANCount > 0 {
		diff("VLAN count", int(p.VLANCount), len(g.vlans))
		for i := 0; i < len(g.vlans) && i < decode.MaxVLANs; i++ {
			diff(fmt.Sprintf("VLAN %d", i), p.VLANs[i], g.vlans[i])
		}
	}
	if g.ip4 != nil {
		ip := g.ip4
		diff("IP version", p.IPVersion, 4)
		diff("src", p.Src(), addr(ip.SrcIP))
		diff("dst", p.Dst(), addr(ip.DstIP))
		diff("TTL", p.TTL, ip.TTL)
		diff("TOS", p.TOS, ip.TOS)
		diff("IP ID", p.IPID, ip.Id)
		diff("DF", p.Has(decode.IPv4DontFragment), ip.Flags&layers.IPv4DontFragment != 0)
		diff("fragment offset", p.FragOffset, ip.FragOffset*8)
		diff("fragment", p.Has(decode.Fragment), ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0)
		if err == nil {
			diff("IP length", p.IPLen, int(ip.Length))
		}
	} else {
		ip := g.ip6
		diff("IP version", p.IPVersion, 6)
		diff("src", p.Src(), addr(ip.SrcIP))
		diff("dst", p.Dst(), addr(ip.DstIP))
		diff("hop limit", p.TTL, ip.HopLimit)
		diff("traffic class", p.TOS, ip.TrafficClass)
		diff("flow label", p.FlowLabel, ip.FlowLabel)
		if err == nil && !p.Has(decode.LengthFromCapture) && !p.Has(decode.Jumbo) {
			// gopacket keeps Length 0 for a jumbogram; the tshark test
			// checks netblame's jumbo length.
			diff("IP length", p.IPLen, 40+int(ip.Length))
		}
	}
	switch {
	case g.tcp != nil:
		if !p.IsTCP() {
			d = append(d, fmt.Sprintf("gopacket decoded TCP, netblame did not (layer %d, err %v)", p.Layer, err))
			return d
		}
		d = append(d, compareTCP(p, g.tcp)...)
	case g.udp != nil:
		if !p.IsUDP() {
			d = append(d, fmt.Sprintf("gopacket decoded UDP, netblame did not (layer %d, err %v)", p.Layer, err))
			return d
		}
		u := g.udp
		diff("sport", p.SrcPort, uint16(u.SrcPort))
		diff("dport", p.DstPort, uint16(u.DstPort))
		diff("UDP length", p.UDPLen, u.Length)
		diff("UDP checksum", p.Checksum, u.Checksum)
		// gopacket bounds the payload by the UDP length, netblame by the
		// IP length; they agree whenever the two lengths do.
		if int(u.Length) == p.IPLen-(p.TransOffset-p.NetOffset) {
			diff("UDP captured payload", p.CapPayloadLen, len(u.Payload))
		}
	case p.IsTCP() || p.IsUDP():
		// netblame decodes a TCP header whose options the snaplen cut;
		// gopacket rejects it.
		if p.Has(decode.TCPHeaderTruncated) {
			break
		}
		// gopacket decodes no transport in a first fragment (IPv4 MF,
		// IPv6 fragment header) nor past an atomic IPv6 fragment
		// header; netblame does, and the tshark test covers these.
		if !g.frag6 && !(g.ip4 != nil && g.ip4.Flags&layers.IPv4MoreFragments != 0) {
			d = append(d, fmt.Sprintf("netblame decoded proto %d, gopacket did not", p.Proto))
		}
	}
	return d
}

func compareTCP(p *decode.Packet, g *layers.TCP) []string {
	var d []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			d = append(d, fmt.Sprintf("%s: netblame %v, gopacket %v", what, got, want))
		}
	}
	diff("sport", p.SrcPort, uint16(g.SrcPort))
	diff("dport", p.DstPort, uint16(g.DstPort))
	diff("seq", p.Seq, g.Seq)
	diff("ack", p.Ack, g.Ack)
	var flags decode.TCPFlags
	for i, set := range []bool{g.FIN, g.SYN, g.RST, g.PSH, g.ACK, g.URG, g.ECE, g.CWR, g.NS} {
		if set {
			flags |= 1 << i
		}
	}
	diff("TCP flags", p.TCPFlags, flags)
	diff("window", p.Window, g.Window)
	diff("checksum", p.Checksum, g.Checksum)
	diff("urgent", p.Urgent, g.Urgent)
	diff("header length", p.TCPHeaderLen, g.DataOffset*4)
	diff("captured payload", p.CapPayloadLen, len(g.Payload))
	if p.Has(decode.BadTCPOptions) {
		return d // gopacket keeps malformed options as raw bytes; the table tests cover these
	}
	var want decode.Packet // the options as gopacket reports them
	for _, o := range g.Options {
		switch o.OptionType {
		case layers.TCPOptionKindMSS:
			want.MSS = binary.BigEndian.Uint16(o.OptionData)
			want.Flags |= decode.HasMSS
		case layers.TCPOptionKindWindowScale:
			want.WScale = o.OptionData[0]
			want.Flags |= decode.HasWScale
		case layers.TCPOptionKindSACKPermitted:
			want.Flags |= decode.HasSACKPerm
		case layers.TCPOptionKindSACK:
			want.SACKCount = 0
			for i := 0; i+8 <= len(o.OptionData); i += 8 {
				want.SACK[want.SACKCount] = decode.SACKBlock{
					binary.BigEndian.Uint32(o.OptionData[i:]),
					binary.BigEndian.Uint32(o.OptionData[i+4:]),
				}
				want.SACKCount++
			}
			want.Flags |= decode.HasSACK
		case layers.TCPOptionKindTimestamps:
			want.TSVal = binary.BigEndian.Uint32(o.OptionData)
			want.TSEcr = binary.BigEndian.Uint32(o.OptionData[4:])
			want.Flags |= decode.HasTimestamps
		}
	}
	const optFlags = decode.HasMSS | decode.HasWScale | decode.HasSACKPerm | decode.HasSACK | decode.HasTimestamps
	diff("option flags", p.Flags&optFlags, want.Flags)
	diff("MSS", p.MSS, want.MSS)
	diff("window scale", p.WScale, want.WScale)
	diff("TS", [2]uint32{p.TSVal, p.TSEcr}, [2]uint32{want.TSVal, want.TSEcr})
	diff("SACK", p.SACK[:p.SACKCount], want.SACK[:want.SACKCount])
	return d
}

func addr(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a
}
