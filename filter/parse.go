package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// protocol qualifiers that may precede host/net/port or stand alone.
var protoWords = map[string]bool{
	"ether": true, "ip": true, "ip6": true, "arp": true, "rarp": true,
	"tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true,
}

// words of pcap-filter this compiler does not implement; naming them gives
// a clearer error than "unexpected".
var unsupportedWords = map[string]bool{
	"gateway": true, "broadcast": true, "multicast": true, "inbound": true, "outbound": true,
	"mpls": true, "pppoed": true, "pppoes": true, "geneve": true, "vxlan": true, "ifname": true,
	"on": true, "rnr": true, "rulenum": true, "reason": true, "rset": true, "srnr": true,
	"subrulenum": true, "action": true, "wlan": true, "type": true, "subtype": true, "dir": true,
	"atalk": true, "aarp": true, "decnet": true, "iso": true, "stp": true, "ipx": true,
	"netbeui": true, "lat": true, "sca": true, "moprc": true, "mopdl": true, "fddi": true,
	"tr": true, "link": true, "ppp": true, "slip": true, "llc": true, "esis": true, "isis": true,
	"clnp": true, "igmp": true, "igrp": true, "pim": true, "vrrp": true, "carp": true,
	"ah": true, "esp": true, "radio": true, "ra": true, "ta": true, "addr1": true, "addr2": true,
	"addr3": true, "addr4": true, "bssid": true, "protochain": true, "lane": true, "llc2": true,
	"metac": true, "bcc": true, "oam": true, "oamf4": true, "sc": true, "ilmic": true,
	"connectmsg": true, "metaconnect": true, "vpi": true, "vci": true, "fisu": true, "lssu": true,
	"msu": true, "sio": true, "opc": true, "dpc": true, "sls": true, "hfisu": true,
	"hlssu": true, "hmsu": true, "hsio": true, "hopc": true, "hdpc": true, "hsls": true,
	"ra_addr": true, "ta_addr": true, "dst_addr": true, "src_addr": true, "ieee802.11": true,
}

// named constants usable in arithmetic, as in pcap-filter.
var namedConsts = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136,
	"icmp6-redirect": 137,
}

// protocol names accepted after "proto" (escaped, as in "proto \tcp").
var protoNames = map[string]uint8{
	"icmp": protoICMP, "tcp": protoTCP, "udp": protoUDP, "icmp6": protoICMPv6, "sctp": protoSCTP,
}

// qual holds the qualifiers of a primitive; a bare value reuses the last
// primitive's, as tcpdump does ("host a or b", "port 80 or 443").
type qual struct {
	proto string // "" when absent
	dir   dir
	typ   string // host, net, port, portrange; "" when absent
}

type parser struct {
	src   string
	toks  []token
	i     int
	link  linkInfo
	st    linkState // offsets as of the current position
	vlans int       // "vlan" primitives seen so far
	last  *qual     // qualifiers of the last primitive that had a value
	depth int       // parentheses open, bounded by maxDepth
}

// maxOffset bounds constant offsets in proto[offset], so that adding a
// header offset never reaches the kernel's special negative range.
const maxOffset = 0x7fff0000

// maxDepth bounds nesting, which keeps recursion (and the quadratic cost
// of retrying a parenthesis as arithmetic, then as an expression) small.
const maxDepth = 100

func (p *parser) peek() token        { return p.toks[p.i] }
func (p *parser) peekAt(n int) token { return p.toks[min(p.i+n, len(p.toks)-1)] }
func (p *parser) next() token        { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *parser) errAt(pos int, format string, a ...any) error {
	return &SyntaxError{Expr: p.src, Pos: pos, Msg: fmt.Sprintf(format, a...)}
}

func isWord(t token, w string) bool  { return t.kind == tID && t.text == w }
func isPunct(t token, s string) bool { return t.kind == tPunct && t.text == s }

// furthest returns whichever syntax error points further into the input:
// after trying two readings, the one that got further explains best.
func furthest(a, b error) error {
	ea, oka := a.(*SyntaxError)
	eb, okb := b.(*SyntaxError)
	if oka && okb && eb.Pos > ea.Pos {
		return b
	}
	if !oka {
		return b
	}
	return a
}

// parseExpr: and and or have equal precedence and associate to the left,
// as in pcap-filter ("a or b and c" is "(a or b) and c").
func (p *parser) parseExpr() (node, error) {
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case isWord(t, "and") || isPunct(t, "&&"):
			p.next()
			r, err := p.parseUnary()
			if err != nil {
				return nil, err
			}
			n = &andNode{n, r}
		case isWord(t, "or") || isPunct(t, "||"):
			p.next()
			r, err := p.parseUnary()
			if err != nil {
				return nil, err
			}
			n = &orNode{n, r}
		default:
			return n, nil
		}
	}
}

func (p *parser) parseUnary() (node, error) {
	t := p.peek()
	if isWord(t, "not") || isPunct(t, "!") {
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	}
	if p.startsArith() {
		// Either a relation ("tcp[13] & 2 != 0", "(len) > 5") or, when that
		// fails, a parenthesised expression or a bare value ("or 443").
		save, saveSt := p.i, p.st
		n, err := p.parseRelation()
		if err == nil {
			return n, nil
		}
		if t.kind != tNum && !isPunct(t, "(") {
			return nil, err // "len", "tcp[", "-": only a relation starts so
		}
		p.i, p.st = save, saveSt
		var n2 node
		var err2 error
		if isPunct(t, "(") {
			n2, err2 = p.parseParen()
		} else {
			n2, err2 = p.parsePrimitive()
		}
		if err2 == nil {
			return n2, nil
		}
		return nil, furthest(err, err2)
	}
	return p.parsePrimitive()
}

func (p *parser) parseParen() (node, error) {
	open := p.next() // "("
	if p.depth >= maxDepth {
		return nil, p.errAt(open.pos, "parentheses nested more than %d deep", maxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.next(); !isPunct(t, ")") {
		return nil, p.errAt(t.pos, "expected ')'")
	}
	return n, nil
}

// startsArith reports whether the next tokens can begin an arithmetic expression.
func (p *parser) startsArith() bool {
	t := p.peek()
	switch t.kind {
	case tNum:
		return true
	case tPunct:
		return t.text == "(" || t.text == "-"
	case tID:
		if t.text == "len" {
			return true
		}
		if _, ok := namedConsts[t.text]; ok {
			return true
		}
		return protoWords[t.text] && isPunct(p.peekAt(1), "[")
	}
	return false
}

func (p *parser) parseRelation() (node, error) {
	l, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case isPunct(t, ">"), isPunct(t, "<"), isPunct(t, ">="), isPunct(t, "<="),
		isPunct(t, "="), isPunct(t, "=="), isPunct(t, "!="):
	default:
		return nil, p.errAt(t.pos, "expected a comparison (=, !=, <, <=, >, >=)")
	}
	p.next()
	r, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	return &leaf{emit: func(g *gen, tl, fl int) { g.relation(l, t.text, r, tl, fl) }}, nil
}

// binary operator precedence, lowest first, as in libpcap's grammar.
var binPrec = map[string]int{"|": 1, "^": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

func (p *parser) parseArith(minPrec int) (arith, error) {
	l, err := p.parseArithUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := binPrec[t.text]
		if t.kind != tPunct || !ok || prec <= minPrec {
			return l, nil
		}
		p.next()
		r, err := p.parseArith(prec)
		if err != nil {
			return nil, err
		}
		if k, ok := r.(*numExpr); ok {
			switch {
			case (t.text == "/" || t.text == "%") && k.v == 0:
				return nil, p.errAt(t.pos, "division by zero")
			case (t.text == "<<" || t.text == ">>") && k.v >= 32:
				return nil, p.errAt(t.pos, "shift by %d: must be below 32", k.v)
			}
		}
		l = fold(&binExpr{op: t.text, l: l, r: r})
	}
}

// fold evaluates an operation on two constants at compile time.
func fold(b *binExpr) arith {
	x, ok1 := b.l.(*numExpr)
	y, ok2 := b.r.(*numExpr)
	if !ok1 || !ok2 {
		return b
	}
	var v uint32
	switch b.op {
	case "+":
		v = x.v + y.v
	case "-":
		v = x.v - y.v
	case "*":
		v = x.v * y.v
	case "/":
		v = x.v / y.v
	case "%":
		v = x.v % y.v
	case "&":
		v = x.v & y.v
	case "|":
		v = x.v | y.v
	case "^":
		v = x.v ^ y.v
	case "<<":
		v = x.v << y.v
	case ">>":
		v = x.v >> y.v
	}
	return &numExpr{v}
}

func (p *parser) parseArithUnary() (arith, error) {
	t := p.next()
	switch {
	case isPunct(t, "-"):
		x, err := p.parseArithUnary()
		if err != nil {
			return nil, err
		}
		if k, ok := x.(*numExpr); ok {
			return &numExpr{-k.v}, nil
		}
		return &negExpr{x}, nil
	case isPunct(t, "("):
		if p.depth >= maxDepth {
			return nil, p.errAt(t.pos, "parentheses nested more than %d deep", maxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
		a, err := p.parseArith(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); !isPunct(c, ")") {
			return nil, p.errAt(c.pos, "expected ')'")
		}
		return a, nil
	case t.kind == tNum:
		return &numExpr{t.num}, nil
	case isWord(t, "len"):
		return &lenExpr{}, nil
	case t.kind == tID && protoWords[t.text] && isPunct(p.peek(), "["):
		return p.parseLoad(t)
	case t.kind == tID:
		if v, ok := namedConsts[t.text]; ok {
			return &numExpr{v}, nil
		}
	}
	return nil, p.errAt(t.pos, "expected a number, len, or proto[offset]")
}

// parseLoad parses "proto[expr]" or "proto[expr:size]" after proto.
func (p *parser) parseLoad(proto token) (arith, error) {
	if (proto.text == "arp" || proto.text == "rarp") && p.link.etherType < 0 {
		return nil, p.errAt(proto.pos, "%s[] needs a link layer with an ethertype", proto.text)
	}
	p.next() // "["
	idx, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	size := 1
	if isPunct(p.peek(), ":") {
		p.next()
		s := p.next()
		if s.kind != tNum || (s.num != 1 && s.num != 2 && s.num != 4) {
			return nil, p.errAt(s.pos, "data size must be 1, 2, or 4")
		}
		size = int(s.num)
	}
	if c := p.next(); !isPunct(c, "]") {
		return nil, p.errAt(c.pos, "expected ']'")
	}
	// The kernel reads offsets from 2^31 up as special (negative) ones:
	// ancillary data, or relative to the network or link header.
	if k, ok := idx.(*numExpr); ok && k.v >= maxOffset {
		return nil, p.errAt(proto.pos+len(proto.text)+1, "offset %d is out of range (at most %d)", k.v, maxOffset-1)
	}
	return &loadExpr{proto: proto.text, idx: idx, size: size, st: p.st}, nil
}

// parsePrimitive parses one primitive with its qualifiers.
func (p *parser) parsePrimitive() (node, error) {
	start := p.peek()
	switch {
	case start.kind == tEOF:
		return nil, p.errAt(start.pos, "expression ends where a primitive was expected")
	case start.kind == tPunct:
		if start.text == "(" {
			return p.parseParen()
		}
		return nil, p.errAt(start.pos, "unexpected %q", start.text)
	case start.kind == tEsc:
		return nil, p.errAt(start.pos, "an escaped name is only allowed after \"proto\"")
	}
	if start.kind == tID {
		switch start.text {
		case "vlan":
			return p.parseVLAN()
		case "greater", "less":
			p.next()
			n := p.next()
			if n.kind != tNum {
				return nil, p.errAt(n.pos, "%s needs a number", start.text)
			}
			if start.text == "greater" {
				return &leaf{emit: func(g *gen, t, f int) { g.lenCmp(jge, n.num, t, f) }}, nil
			}
			return &leaf{emit: func(g *gen, t, f int) { g.lenCmp(jgt, n.num, f, t) }}, nil
		case "proto":
			return p.parseProto("", start)
		case "and", "or", "not":
			return nil, p.errAt(start.pos, "%q where a primitive was expected", start.text)
		}
		if unsupportedWords[start.text] {
			return nil, p.errAt(start.pos, "%q is not supported by this filter compiler", start.text)
		}
	}

	var q qual
	given := false
	if t := p.peek(); t.kind == tID && protoWords[t.text] {
		q.proto = t.text
		given = true
		p.next()
		nt := p.peek()
		switch {
		case isWord(nt, "proto"):
			p.next()
			return p.parseProto(q.proto, nt)
		case !(isWord(nt, "src") || isWord(nt, "dst") || isWord(nt, "host") || isWord(nt, "net") ||
			isWord(nt, "port") || isWord(nt, "portrange")):
			return p.protoOnly(t)
		}
	}
	if t := p.peek(); isWord(t, "src") || isWord(t, "dst") {
		given = true
		p.next()
		q.dir = dirSrc
		if t.text == "dst" {
			q.dir = dirDst
		}
		if c := p.peek(); (isWord(c, "or") || isWord(c, "and")) && (isWord(p.peekAt(1), "src") || isWord(p.peekAt(1), "dst")) && p.peekAt(1).text != t.text {
			p.next()
			p.next()
			q.dir = dirEither
			if c.text == "and" {
				q.dir = dirAnd
			}
		}
	}
	if t := p.peek(); isWord(t, "host") || isWord(t, "net") || isWord(t, "port") || isWord(t, "portrange") {
		given = true
		q.typ = t.text
		p.next()
	}
	if !given {
		if p.last == nil {
			v := p.peek()
			if v.kind == tID || v.kind == tAddr6 || v.kind == tMAC || v.kind == tNum {
				if v.kind == tID && !looksNumeric(v.text) {
					return nil, p.errAt(v.pos, "unknown word %q (host and service names are not supported)", v.text)
				}
			} else {
				return nil, p.errAt(v.pos, "expected a primitive")
			}
		} else {
			q = *p.last
		}
	}
	n, err := p.parseValue(q)
	if err != nil {
		return nil, err
	}
	qq := q
	p.last = &qq
	return n, nil
}

func looksNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			return false
		}
	}
	return s != ""
}

// protoOnly is a protocol keyword standing alone ("tcp", "ip6", "arp").
func (p *parser) protoOnly(t token) (node, error) {
	st := p.st
	switch t.text {
	case "ip":
		return &leaf{emit: func(g *gen, tl, fl int) { g.linkProto(st, etIPv4, tl, fl) }}, nil
	case "ip6":
		return &leaf{emit: func(g *gen, tl, fl int) { g.linkProto(st, etIPv6, tl, fl) }}, nil
	case "arp", "rarp":
		if p.link.etherType < 0 {
			return nil, p.errAt(t.pos, "%s needs a link layer with an ethertype", t.text)
		}
		et := uint16(etARP)
		if t.text == "rarp" {
			et = etRARP
		}
		return &leaf{emit: func(g *gen, tl, fl int) { g.linkProto(st, et, tl, fl) }}, nil
	case "icmp":
		return &leaf{emit: func(g *gen, tl, fl int) { g.ipProto(st, protoICMP, tl, fl) }}, nil
	case "icmp6":
		return &leaf{emit: func(g *gen, tl, fl int) { g.ip6Proto(st, protoICMPv6, tl, fl) }}, nil
	case "tcp", "udp", "sctp":
		return p.eitherIPProto(transportProto[t.text]), nil
	}
	return nil, p.errAt(t.pos, "%q needs a qualifier such as host (e.g. \"ether host 0:1:2:3:4:5\")", t.text)
}

// eitherIPProto matches a protocol over IPv4 or IPv6, as "tcp" and "proto N" do.
func (p *parser) eitherIPProto(proto uint8) node {
	st := p.st
	return &leaf{emit: func(g *gen, t, f int) {
		m := g.newLabel()
		g.ipProto(st, proto, t, m)
		g.place(m)
		g.ip6Proto(st, proto, t, f)
	}}
}

// parseProto parses the value after "proto" (qualified by ip, ip6, ether or nothing).
func (p *parser) parseProto(qualifier string, kw token) (node, error) {
	if qualifier == "" {
		p.next() // "proto"
	}
	v := p.next()
	var num uint32
	switch v.kind {
	case tNum:
		num = v.num
	case tEsc, tID:
		n, ok := protoNames[v.text]
		if !ok {
			return nil, p.errAt(v.pos, "unknown protocol %q", v.text)
		}
		num = uint32(n)
	default:
		return nil, p.errAt(v.pos, "expected a protocol number or name after proto")
	}
	st := p.st
	switch qualifier {
	case "ether":
		if p.link.etherType < 0 {
			return nil, p.errAt(kw.pos, "ether proto needs a link layer with an ethertype")
		}
		if num <= 1500 || num > 0xffff {
			return nil, p.errAt(v.pos, "ether proto must be an ethertype above 1500")
		}
		return &leaf{emit: func(g *gen, t, f int) { g.linkProto(st, uint16(num), t, f) }}, nil
	case "", "ip", "ip6":
	default:
		return nil, p.errAt(kw.pos, "\"%s proto\" is not supported", qualifier)
	}
	if num > 255 {
		return nil, p.errAt(v.pos, "protocol number %d is above 255", num)
	}
	switch qualifier {
	case "ip":
		return &leaf{emit: func(g *gen, t, f int) { g.ipProto(st, uint8(num), t, f) }}, nil
	case "ip6":
		return &leaf{emit: func(g *gen, t, f int) { g.ip6Proto(st, uint8(num), t, f) }}, nil
	}
	return p.eitherIPProto(uint8(num)), nil
}

// parseVLAN parses "vlan [ID]" and moves later offsets past the tag.
func (p *parser) parseVLAN() (node, error) {
	kw := p.next()
	if !p.link.ether {
		return nil, p.errAt(kw.pos, "vlan needs an Ethernet link")
	}
	id := -1
	if v := p.peek(); v.kind == tNum {
		if v.num > 4095 {
			return nil, p.errAt(v.pos, "VLAN ID %d is above 4095", v.num)
		}
		id = int(v.num)
		p.next()
	}
	st := p.st
	first := p.vlans == 0
	p.vlans++
	if p.link.live && first {
		// Only the outermost tag can be in skb metadata; where it is found
		// decides the offset of the rest at run time.
		p.st = linkState{variable: true}
		return &leaf{emit: func(g *gen, t, f int) { g.vlanLiveFirst(id, t, f) }}, nil
	}
	// Further tags are in the frame; like libpcap, each moves the offset
	// of every primitive after it by 4, whether or not it was evaluated.
	p.st.shift += 4
	return &leaf{emit: func(g *gen, t, f int) { g.tpidAndVID(st, id, t, f) }}, nil
}

// parseValue parses the value of host/net/port/portrange with qualifiers q.
func (p *parser) parseValue(q qual) (node, error) {
	v := p.next()
	st := p.st
	d := q.dir
	switch q.typ {
	case "port", "portrange":
		var protos []uint8
		switch q.proto {
		case "":
			protos = []uint8{protoSCTP, protoTCP, protoUDP}
		case "tcp", "udp", "sctp":
			protos = []uint8{transportProto[q.proto]}
		default:
			return nil, p.errAt(v.pos, "illegal qualifier %q for %s", q.proto, q.typ)
		}
		lo, hi, err := p.portValue(v, q.typ == "portrange")
		if err != nil {
			return nil, err
		}
		return &leaf{emit: func(g *gen, t, f int) { g.port(st, protos, d, lo, hi, t, f) }}, nil
	}

	// host, net, or a bare value.
	if v.kind == tMAC {
		if q.proto != "ether" || q.typ == "net" {
			return nil, p.errAt(v.pos, "an Ethernet address needs the ether qualifier")
		}
		if !p.link.ether {
			return nil, p.errAt(v.pos, "ether host needs an Ethernet link")
		}
		var a [6]byte
		for i, part := range strings.Split(v.text, ":") {
			b, _ := strconv.ParseUint(part, 16, 8)
			a[i] = byte(b)
		}
		return &leaf{emit: func(g *gen, t, f int) { g.mac(d, a, t, f) }}, nil
	}
	if q.proto == "ether" {
		return nil, p.errAt(v.pos, "ether host needs an Ethernet address like 0:1:2:3:4:5")
	}
	if q.proto != "" && q.proto != "ip" && q.proto != "ip6" && q.proto != "arp" && q.proto != "rarp" {
		return nil, p.errAt(v.pos, "illegal qualifier %q for an address", q.proto)
	}
	isNet := q.typ == "net"
	if c := p.peek(); q.typ == "" && (isPunct(c, "/") || isWord(c, "mask")) {
		isNet = true
	}
	switch v.kind {
	case tAddr6:
		a, _ := netip.ParseAddr(v.text)
		bits := 128
		if isPunct(p.peek(), "/") {
			p.next()
			n := p.next()
			if n.kind != tNum || n.num > 128 {
				return nil, p.errAt(n.pos, "IPv6 prefix length must be 0 to 128")
			}
			bits = int(n.num)
		} else if isNet {
			return nil, p.errAt(p.peek().pos, "an IPv6 network needs a /length")
		}
		if q.proto != "" && q.proto != "ip6" {
			return nil, p.errAt(v.pos, "%q qualifier applied to an IPv6 address", q.proto)
		}
		pfx := netip.PrefixFrom(a, bits)
		if pfx.Masked().Addr() != a {
			return nil, p.errAt(v.pos, "non-network bits set in %q", v.text)
		}
		var val, mask [4]uint32
		b := a.As16()
		for i := 0; i < 4; i++ {
			val[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
			m := bits - 32*i
			switch {
			case m >= 32:
				mask[i] = 0xffffffff
			case m > 0:
				mask[i] = ^uint32(0) << (32 - m)
			}
		}
		return &leaf{emit: func(g *gen, t, f int) { g.addr6(st, d, val, mask, t, f) }}, nil
	case tID, tNum:
		if !looksNumeric(v.text) {
			return nil, p.errAt(v.pos, "%q is not an address (host names are not supported)", v.text)
		}
		addr, octets, ok := parseIPv4Partial(v.text)
		if !ok {
			return nil, p.errAt(v.pos, "%q is not a valid IPv4 address", v.text)
		}
		var mask uint32
		switch {
		case isPunct(p.peek(), "/"):
			p.next()
			n := p.next()
			if n.kind != tNum || n.num > 32 {
				return nil, p.errAt(n.pos, "IPv4 prefix length must be 0 to 32")
			}
			if n.num > 0 {
				mask = ^uint32(0) << (32 - n.num)
			}
			addr <<= 8 * (4 - octets)
		case isWord(p.peek(), "mask"):
			p.next()
			m := p.next()
			ma, mo, ok := parseIPv4Partial(m.text)
			if !ok || mo != 4 {
				return nil, p.errAt(m.pos, "mask must be a dotted IPv4 address")
			}
			mask = ma
			addr <<= 8 * (4 - octets)
		case isNet:
			// "net 10.1" is 10.1.0.0/16, as libpcap reads a partial address.
			mask = ^uint32(0) << (32 - 8*octets)
			addr <<= 8 * (4 - octets)
		default:
			if octets != 4 {
				return nil, p.errAt(v.pos, "%q is not a complete IPv4 address", v.text)
			}
			mask = 0xffffffff
		}
		if addr&^mask != 0 {
			return nil, p.errAt(v.pos, "non-network bits set in %q", v.text)
		}
		if q.proto == "ip6" {
			return nil, p.errAt(v.pos, "'ip6' qualifier applied to an IPv4 address")
		}
		var ets []uint16
		switch q.proto {
		case "":
			if p.link.etherType < 0 {
				ets = []uint16{etIPv4}
			} else {
				ets = []uint16{etIPv4, etARP, etRARP}
			}
		case "ip":
			ets = []uint16{etIPv4}
		case "arp":
			ets = []uint16{etARP}
		case "rarp":
			ets = []uint16{etRARP}
		}
		if ets[0] != etIPv4 && p.link.etherType < 0 {
			return nil, p.errAt(v.pos, "%s needs a link layer with an ethertype", q.proto)
		}
		return &leaf{emit: func(g *gen, t, f int) {
			for i, et := range ets {
				next := f
				if i < len(ets)-1 {
					next = g.newLabel()
				}
				g.addr4(st, et, d, addr, mask, t, next)
				if next != f {
					g.place(next)
				}
			}
		}}, nil
	}
	return nil, p.errAt(v.pos, "expected an address")
}

// parseIPv4Partial parses 1 to 4 dotted decimal octets into the low bits.
func parseIPv4Partial(s string) (uint32, uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, 0, false
	}
	var v uint32
	for _, part := range parts {
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return 0, 0, false
		}
		v = v<<8 | uint32(n)
	}
	return v, uint32(len(parts)), true
}

// portValue parses a port number or, for portrange, "lo-hi".
func (p *parser) portValue(v token, isRange bool) (uint16, uint16, error) {
	num := func(s string) (uint16, bool) {
		n, ok := parseNum(s)
		return uint16(n), ok && n <= 65535
	}
	if v.kind == tNum {
		if v.num > 65535 {
			return 0, 0, p.errAt(v.pos, "port %d is above 65535", v.num)
		}
		return uint16(v.num), uint16(v.num), nil
	}
	if isRange && v.kind == tID {
		if a, b, ok := strings.Cut(v.text, "-"); ok {
			lo, ok1 := num(a)
			hi, ok2 := num(b)
			if ok1 && ok2 {
				if lo > hi {
					lo, hi = hi, lo
				}
				return lo, hi, nil
			}
		}
		return 0, 0, p.errAt(v.pos, "port range must be two port numbers like 1000-2000")
	}
	if v.kind == tID {
		return 0, 0, p.errAt(v.pos, "%q is not a port number (service names are not supported)", v.text)
	}
	return 0, 0, p.errAt(v.pos, "expected a port number")
}
