package dfilter

import (
	"sort"
	"strconv"
	"strings"
)

// Detail prints a packet's layers and their fields as an indented tree,
// the way tshark -V and PyShark's print(packet) show a packet (analyze
// -V): one heading a layer netblame decodes (frame, Ethernet, VLAN, IPv4,
// IPv6, TCP with its analysis flags, UDP, ICMP, DNS, HTTP, TLS, and
// netblame's own analysis), under it one "name: value" line for each
// occurrence of each of the layer's fields that the packet holds. Names
// are the display-filter names and values are spelled as -T fields
// prints them (Columns), so what -V shows is what -e and -Y see. Pair
// fields (ip.addr, tcp.port and the like) are left out, as in tshark's
// tree, where they are hidden; a presence-only field (an analysis flag)
// shows once.
//
// Appending a packet's tree allocates nothing.
type Detail struct {
	layers []detailLayer
}

type detailLayer struct {
	title  string
	proto  *field // the layer's presence field; nil: shown when a field has a value
	fields []*field
}

// detailLayers are the layers Detail shows, in the order of the packet.
var detailLayers = []struct{ name, title string }{
	{"frame", "Frame"},
	{"eth", "Ethernet II"},
	{"vlan", "802.1Q Virtual LAN"},
	{"ip", "Internet Protocol Version 4"},
	{"ipv6", "Internet Protocol Version 6"},
	{"tcp", "Transmission Control Protocol"},
	{"udp", "User Datagram Protocol"},
	{"icmp", "Internet Control Message Protocol"},
	{"dns", "Domain Name System"},
	{"http", "Hypertext Transfer Protocol"},
	{"tls", "Transport Layer Security"},
	{"netblame", "netblame analysis"},
}

// hiddenInTree are the pair fields, which tshark's tree hides.
var hiddenInTree = map[string]bool{"eth.addr": true, "ip.addr": true, "ipv6.addr": true, "tcp.port": true, "udp.port": true}

// NewDetail builds the tree's layout from the field registry.
func NewDetail() *Detail {
	d := &Detail{}
	for _, l := range detailLayers {
		dl := detailLayer{title: l.title, proto: fieldsBy[l.name]}
		for _, f := range fieldList {
			if strings.HasPrefix(f.name, l.name+".") && !hiddenInTree[f.name] {
				dl.fields = append(dl.fields, f)
			}
		}
		sort.Slice(dl.fields, func(i, j int) bool { return dl.fields[i].name < dl.fields[j].name })
		d.layers = append(d.layers, dl)
	}
	return d
}

// Append appends p's tree to dst: each layer's heading at the margin
// ("Frame 3: 66 bytes on wire, 66 bytes captured" for the frame), its
// fields indented by four spaces, each line ending in a newline.
func (d *Detail) Append(dst []byte, p *Packet) []byte {
	vs := &p.vs
	for i := range d.layers {
		l := &d.layers[i]
		if l.proto != nil {
			vs.n = 0
			l.proto.get(p, vs)
			if vs.n == 0 {
				continue
			}
		}
		heading := len(dst)
		dst = append(dst, l.title...)
		if l.proto != nil && l.proto.name == "frame" {
			dst = append(dst, ' ')
			dst = strconv.AppendUint(dst, p.Frame, 10)
			dst = append(dst, ": "...)
			dst = strconv.AppendInt(dst, int64(p.Len), 10)
			dst = append(dst, " bytes on wire, "...)
			dst = strconv.AppendInt(dst, int64(len(p.Data)), 10)
			dst = append(dst, " bytes captured"...)
		}
		dst = append(dst, '\n')
		shown := false
		for _, f := range l.fields {
			vs.n = 0
			f.get(p, vs)
			n := vs.n
			if f.kind == kNone {
				n = min(n, 1)
			}
			for j := range n {
				dst = append(dst, "    "...)
				dst = append(dst, f.name...)
				dst = append(dst, ": "...)
				dst = f.format(dst, &vs.v[j])
				dst = append(dst, '\n')
				shown = true
			}
		}
		if l.proto == nil && !shown {
			dst = dst[:heading] // a layer without a presence field shows only with a field
		}
	}
	return dst
}
