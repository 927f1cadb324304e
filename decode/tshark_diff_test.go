package decode_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// tsharkFields are the fields compared, in the order tshark prints them.
var tsharkFields = []string{
	"frame.number",
	"vlan.id",
	"ip.src", "ip.dst", "ip.id", "ip.ttl", "ip.frag_offset", "ip.flags.mf", "ip.flags.df",
	"ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.flow", "ipv6.fraghdr.ident",
	"tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
	"tcp.checksum", "tcp.urgent_pointer", "tcp.hdr_len", "tcp.len", "tcp.option_kind",
	"tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_le", "tcp.options.sack_re",
	"tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
	"udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
	"icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
}

// tsharkFrames runs tshark over a capture and returns each frame's fields
// by number. Reassembly and sequence analysis are off so that every frame
// shows its own headers with absolute sequence numbers.
func tsharkFrames(path string) (map[int]map[string]string, error) {
	rows, err := tsharktest.Fields(path, tsharktest.Query{Fields: tsharkFields, All: true, Prefs: []string{
		"ip.defragment:FALSE", "ipv6.defragment:FALSE",
		"tcp.relative_sequence_numbers:FALSE", "tcp.analyze_sequence_numbers:FALSE", "tcp.desegment_tcp_streams:FALSE"}})
	if err != nil {
		return nil, err
	}
	frames := map[int]map[string]string{}
	for _, vals := range rows {
		m := map[string]string{}
		for i, f := range tsharkFields {
			m[f] = vals[i]
		}
		n, err := strconv.Atoi(m["frame.number"])
		if err != nil {
			return nil, fmt.Errorf("tshark frame number %q", m["frame.number"])
		}
		frames[n] = m
	}
	return frames, nil
}

// tsharkKnown lists frames where netblame deliberately differs from
// tshark, with the reason. Keyed by "file#frame".
var tsharkKnown = func() map[string]string {
	m := map[string]string{}
	// Ethernet over MPLS (a pseudowire with a control word and an inner
	// Ethernet frame carrying 802.1Q and IPv4): tshark follows the tunnel,
	// netblame stops after the label stack, as for every tunnel.
	for _, n := range []int{142, 150, 157, 170, 174, 175, 176, 177, 178, 179} {
		m[fmt.Sprintf("tcpreplay/test.pcap#%d", n)] = "EoMPLS pseudowire not followed"
	}
	return m
}()

// TestTsharkDifferential compares every decoded packet of every shared
// capture with what tshark reports for the same frame.
func TestTsharkDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark once per capture; skipped with -short")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	dir := sharedtest.Pcaps(t)
	for _, name := range captureFiles(t, dir) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // tshark start-up dominates; -parallel bounds it
			ts, err := tsharkFrames(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			frames, total, _ := readCapture(filepath.Join(dir, name))
			if total != len(ts) {
				t.Errorf("capfile read %d frames, tshark %d", total, len(ts))
			}
			var p decode.Packet
			compared := 0
			for _, f := range frames {
				m, ok := ts[f.Number]
				if !ok {
					t.Errorf("frame %d: tshark printed no such frame", f.Number)
					continue
				}
				err := p.Decode(f.Data, f.Link)
				diffs := compareTshark(&p, err, m)
				key := fmt.Sprintf("%s#%d", name, f.Number)
				if why, ok := tsharkKnown[key]; ok {
					if len(diffs) == 0 {
						t.Errorf("frame %d: listed as a known difference (%s) but agrees with tshark", f.Number, why)
					}
					continue
				}
				for _, d := range diffs {
					t.Errorf("frame %d: %s", f.Number, d)
				}
				if p.IsTCP() || p.IsUDP() {
					compared++
				}
			}
			t.Logf("%d frames, %d packets, %d TCP/UDP compared with tshark", total, len(frames), compared)
		})
	}
}

// first returns the first of tshark's comma-separated values.
func first(v string) string {
	s, _, _ := strings.Cut(v, ",")
	return s
}

func parseNum(v string) (uint64, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 0, 64) // "0x1c2d" or decimal
	return n, err == nil
}

// compareTshark lists the differences between p and tshark's fields m.
func compareTshark(p *decode.Packet, err error, m map[string]string) []string {
	var d []string
	num := func(what, field string, got uint64) {
		want, ok := parseNum(first(m[field]))
		if !ok {
			d = append(d, fmt.Sprintf("%s: tshark shows no %s (%q)", what, field, m[field]))
			return
		}
		if got != want {
			d = append(d, fmt.Sprintf("%s: netblame %d, tshark %d", what, got, want))
		}
	}
	if m["vlan.id"] != "" || p.VLANCount > 0 {
		ids := strings.Split(m["vlan.id"], ",")
		if m["vlan.id"] == "" {
			ids = nil
		}
		if int(p.VLANCount) != len(ids) {
			d = append(d, fmt.Sprintf("VLAN count: netblame %d, tshark %q", p.VLANCount, m["vlan.id"]))
		} else {
			for i := 0; i < len(ids) && i < decode.MaxVLANs; i++ {
				if strconv.Itoa(int(p.VLANs[i])) != ids[i] {
					d = append(d, fmt.Sprintf("VLAN %d: netblame %d, tshark %s", i, p.VLANs[i], ids[i]))
				}
			}
		}
	}
	src4, src6 := first(m["ip.src"]), first(m["ipv6.src"])
	if p.Layer < decode.LayerNetwork {
		if (src4 != "" || src6 != "") && err == nil {
			d = append(d, fmt.Sprintf("tshark shows IP %s%s, netblame decoded none and gave no error", src4, src6))
		}
		return d
	}
	// The outermost IP header; for IPv6 in IPv4 (or the reverse) tshark
	// lists the other version's fields too, so look at what netblame saw.
	switch p.IPVersion {
	case 4:
		if src4 == "" {
			return append(d, "netblame decoded IPv4, tshark shows none")
		}
		if p.Src() != netip.MustParseAddr(src4) || p.Dst().String() != first(m["ip.dst"]) {
			d = append(d, fmt.Sprintf("addresses: netblame %v > %v, tshark %s > %s", p.Src(), p.Dst(), src4, m["ip.dst"]))
		}
		num("IP ID", "ip.id", uint64(p.IPID))
		num("TTL", "ip.ttl", uint64(p.TTL))
		num("fragment offset (8-byte units)", "ip.frag_offset", uint64(p.FragOffset/8))
		mf, _ := parseNum(first(m["ip.flags.mf"]))
		dfl, _ := parseNum(first(m["ip.flags.df"]))
		if p.Has(decode.IPv4DontFragment) != (dfl == 1) {
			d = append(d, fmt.Sprintf("DF: netblame %v, tshark %s", p.Has(decode.IPv4DontFragment), m["ip.flags.df"]))
		}
		if p.Has(decode.Fragment) != (mf == 1 || p.FragOffset != 0) {
			d = append(d, fmt.Sprintf("fragment: netblame %v, tshark MF %s", p.Has(decode.Fragment), m["ip.flags.mf"]))
		}
	case 6:
		if src6 == "" {
			return append(d, "netblame decoded IPv6, tshark shows none")
		}
		if p.Src() != netip.MustParseAddr(src6) || p.Dst().String() != first(m["ipv6.dst"]) {
			d = append(d, fmt.Sprintf("addresses: netblame %v > %v, tshark %s > %s", p.Src(), p.Dst(), src6, m["ipv6.dst"]))
		}
		num("hop limit", "ipv6.hlim", uint64(p.TTL))
		num("flow label", "ipv6.flow", uint64(p.FlowLabel))
		if m["ipv6.fraghdr.ident"] != "" {
			num("fragment id", "ipv6.fraghdr.ident", uint64(p.IPID))
		}
	}
	tcpPort, udpPort := first(m["tcp.srcport"]), first(m["udp.srcport"])
	switch {
	case p.IsTCP():
		if tcpPort == "" {
			return append(d, "netblame decoded TCP, tshark shows none")
		}
		d = append(d, compareTsharkTCP(p, m)...)
	case p.IsUDP():
		if udpPort == "" {
			return append(d, "netblame decoded UDP, tshark shows none")
		}
		num("sport", "udp.srcport", uint64(p.SrcPort))
		num("dport", "udp.dstport", uint64(p.DstPort))
		num("UDP length", "udp.length", uint64(p.UDPLen))
		num("UDP checksum", "udp.checksum", uint64(p.Checksum))
	case p.Layer == decode.LayerTransport: // ICMP or ICMPv6
		field := "icmp"
		if p.Proto == decode.ProtoICMPv6 {
			field = "icmpv6"
		}
		num("ICMP type", field+".type", uint64(p.ICMPType))
		num("ICMP code", field+".code", uint64(p.ICMPCode))
	case p.Has(decode.LaterFragment), p.Has(decode.ESP):
		// No transport header to compare.
	default:
		// tshark shows TCP/UDP that netblame did not decode: only
		// acceptable when netblame reported why, or when the transport
		// is inside something netblame does not follow (tunnels).
		if (tcpPort != "" && p.Proto == decode.ProtoTCP || udpPort != "" && p.Proto == decode.ProtoUDP) && err == nil {
			d = append(d, fmt.Sprintf("tshark decoded proto %d, netblame did not and gave no error", p.Proto))
		}
	}
	return d
}

func compareTsharkTCP(p *decode.Packet, m map[string]string) []string {
	var d []string
	num := func(what, field string, got uint64) {
		want, ok := parseNum(first(m[field]))
		if !ok {
			d = append(d, fmt.Sprintf("%s: tshark shows no %s (%q)", what, field, m[field]))
		} else if got != want {
			d = append(d, fmt.Sprintf("%s: netblame %d, tshark %d", what, got, want))
		}
	}
	num("sport", "tcp.srcport", uint64(p.SrcPort))
	num("dport", "tcp.dstport", uint64(p.DstPort))
	num("seq", "tcp.seq_raw", uint64(p.Seq))
	num("ack", "tcp.ack_raw", uint64(p.Ack))
	if flags, ok := parseNum(first(m["tcp.flags"])); !ok || decode.TCPFlags(flags)&0x1ff != p.TCPFlags {
		d = append(d, fmt.Sprintf("flags: netblame %#x, tshark %s", p.TCPFlags, m["tcp.flags"]))
	}
	num("window", "tcp.window_size_value", uint64(p.Window))
	num("checksum", "tcp.checksum", uint64(p.Checksum))
	num("urgent", "tcp.urgent_pointer", uint64(p.Urgent))
	num("header length", "tcp.hdr_len", uint64(p.TCPHeaderLen))
	if !p.Has(decode.Fragment) {
		// For a first fragment tshark leaves tcp.len out (the segment
		// length is known only after reassembly); netblame reports the
		// length this fragment implies.
		num("payload length", "tcp.len", uint64(p.PayloadLen))
	}
	if p.Has(decode.BadTCPOptions) {
		return d // tshark's view of a malformed list differs by design; the table tests cover it
	}
	kinds := map[string]bool{}
	for _, k := range strings.Split(m["tcp.option_kind"], ",") {
		kinds[k] = true
	}
	opt := func(what string, flag decode.Flags, kind string) bool {
		if p.Has(flag) != kinds[kind] && !p.Has(decode.TCPHeaderTruncated) {
			d = append(d, fmt.Sprintf("%s: netblame %v, tshark option kinds %q", what, p.Has(flag), m["tcp.option_kind"]))
		}
		return p.Has(flag)
	}
	if opt("MSS", decode.HasMSS, "2") {
		num("MSS", "tcp.options.mss_val", uint64(p.MSS))
	}
	if opt("window scale", decode.HasWScale, "3") {
		num("window scale", "tcp.options.wscale.shift", uint64(p.WScale))
	}
	opt("SACK permitted", decode.HasSACKPerm, "4")
	if opt("SACK", decode.HasSACK, "5") {
		var le, re []string
		for _, b := range p.SACK[:p.SACKCount] {
			le = append(le, strconv.FormatUint(uint64(b.Left), 10))
			re = append(re, strconv.FormatUint(uint64(b.Right), 10))
		}
		if strings.Join(le, ",") != m["tcp.options.sack_le"] || strings.Join(re, ",") != m["tcp.options.sack_re"] {
			d = append(d, fmt.Sprintf("SACK: netblame %v, tshark %s / %s", p.SACK[:p.SACKCount], m["tcp.options.sack_le"], m["tcp.options.sack_re"]))
		}
	}
	if opt("timestamps", decode.HasTimestamps, "8") {
		num("TSval", "tcp.options.timestamp.tsval", uint64(p.TSVal))
		num("TSecr", "tcp.options.timestamp.tsecr", uint64(p.TSEcr))
	}
	return d
}
