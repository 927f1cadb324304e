// Package dfilter compiles and runs display filters in Wireshark's syntax,
// for the subset people type: comparisons (== != < <= > >= and eq ne lt le
// gt ge), and/or/not (&& || !), parentheses, "in {80 443 8000..8080}",
// contains, matches (RE2), bare field presence ("tcp.analysis.flags",
// "dns"), CIDR on addresses ("ip.addr == 10.0.0.0/8") and the pair fields
// (ip.addr, tcp.port, ...) that match either side.
//
// A filter runs on a Packet: a decoded frame with what the flow table said
// of it, so tcp.analysis.* fields mean what Wireshark's single pass means.
// Running a compiled filter allocates nothing.
//
// As in Wireshark since 3.6, "a != b" is "not a == b": true only when no
// occurrence of a equals b.
//
// The same fields print through Columns, spelled as tshark -T fields -e
// spells them; Conversations numbers tcp.stream and udp.stream as tshark
// does, and is fed every packet before a filter or the columns see it.
package dfilter

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Error is a filter that does not compile: what is wrong, at which byte of
// the expression.
type Error struct {
	Expr   string
	Pos    int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("display filter %q: %s at %d:\n  %s\n  %s^", e.Expr, e.Reason, e.Pos, e.Expr, strings.Repeat(" ", e.Pos))
}

// Filter is a compiled display filter.
type Filter struct {
	expr string
	root node
	conv bool
}

func (f *Filter) String() string { return f.expr }

// NeedsConversations reports whether the filter reads a field that only
// Conversations.See sets (tcp.stream, udp.stream, tcp.time_relative,
// tcp.time_delta): without one, See's work on every packet can be spared.
func (f *Filter) NeedsConversations() bool { return f.conv }

// Match reports whether p passes the filter.
func (f *Filter) Match(p *Packet) bool { return f.root.eval(p) }

// Compile parses expr.
func Compile(expr string) (*Filter, error) {
	ps := &parser{expr: expr}
	ps.lex()
	if ps.err != nil {
		return nil, ps.err
	}
	if len(ps.toks) == 1 {
		ps.fail(0, "empty filter")
		return nil, ps.err
	}
	n := ps.or()
	if ps.err == nil && ps.peek().kind != tEOF {
		ps.fail(ps.peek().pos, fmt.Sprintf("unexpected %q", ps.peek().text))
	}
	if ps.err != nil {
		return nil, ps.err
	}
	return &Filter{expr: expr, root: n, conv: ps.conv}, nil
}

type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // a field name, operator word or bare literal (10.0.0.1, 443, aa:bb:..)
	tString         // "quoted"
	tOp             // == != < <= > >= && || ! ( ) { } ..
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type parser struct {
	expr string
	toks []token
	i    int
	err  *Error
	conv bool // a field that needs Conversations was named
}

func (ps *parser) fail(pos int, reason string) node {
	if ps.err == nil {
		ps.err = &Error{Expr: ps.expr, Pos: pos, Reason: reason}
	}
	return nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '/' || c == '-'
}

func (ps *parser) lex() {
	s := ps.expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				ps.fail(i, "unterminated string")
				return
			}
			ps.toks = append(ps.toks, token{tString, b.String(), i})
			i = j + 1
		case strings.HasPrefix(s[i:], ".."):
			ps.toks = append(ps.toks, token{tOp, "..", i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) && !strings.HasPrefix(s[j:], "..") {
				j++
			}
			ps.toks = append(ps.toks, token{tWord, s[i:j], i})
			i = j
		default:
			for _, op := range []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "~", "(", ")", "{", "}", ",", "&"} {
				if strings.HasPrefix(s[i:], op) {
					ps.toks = append(ps.toks, token{tOp, op, i})
					i += len(op)
					goto next
				}
			}
			ps.fail(i, fmt.Sprintf("unexpected character %q", c))
			return
		next:
		}
	}
	ps.toks = append(ps.toks, token{tEOF, "", len(s)})
}

func (ps *parser) peek() token { return ps.toks[ps.i] }
func (ps *parser) next() token {
	t := ps.toks[ps.i]
	if t.kind != tEOF {
		ps.i++
	}
	return t
}

func (ps *parser) isOp(ops ...string) bool {
	t := ps.peek()
	return (t.kind == tOp || t.kind == tWord) && slices.Contains(ops, t.text)
}

func (ps *parser) or() node {
	n := ps.and()
	for ps.err == nil && ps.isOp("or", "||") {
		ps.next()
		n = orNode{n, ps.and()}
	}
	return n
}

func (ps *parser) and() node {
	n := ps.unary()
	for ps.err == nil && ps.isOp("and", "&&") {
		ps.next()
		n = andNode{n, ps.unary()}
	}
	return n
}

func (ps *parser) unary() node {
	if ps.isOp("not", "!") {
		ps.next()
		return notNode{ps.unary()}
	}
	if ps.isOp("(") {
		open := ps.next()
		n := ps.or()
		if ps.err == nil && !ps.isOp(")") {
			return ps.fail(open.pos, "unclosed parenthesis")
		}
		ps.next()
		return n
	}
	return ps.test()
}

var cmpWords = map[string]cmpOp{
	"==": opEq, "eq": opEq, "!=": opNe, "ne": opNe, "<": opLt, "lt": opLt, "<=": opLe, "le": opLe,
	">": opGt, "gt": opGt, ">=": opGe, "ge": opGe, "contains": opContains, "matches": opMatches, "~": opMatches,
}

// test is a field alone (presence), a comparison, or "field in {...}".
func (ps *parser) test() node {
	t := ps.next()
	if t.kind != tWord {
		return ps.fail(t.pos, "expected a field name")
	}
	f, ok := lookupField(t.text)
	if !ok {
		return ps.fail(t.pos, unknownField(t.text))
	}
	ps.conv = ps.conv || f.conv
	nt := ps.peek()
	if nt.kind == tOp && nt.text == "&" {
		ps.next()
		return ps.bits(f)
	}
	if op, ok := cmpWords[nt.text]; ok && (nt.kind == tOp || nt.kind == tWord) {
		ps.next()
		return ps.compare(f, op)
	}
	if nt.kind == tWord && nt.text == "in" {
		ps.next()
		return ps.set(f)
	}
	return presentNode{f}
}

// bits is "field & mask", optionally compared: "field & mask == v".
func (ps *parser) bits(f *field) node {
	if f.kind != kUint {
		return ps.fail(ps.peek().pos, f.name+" is not a number: & needs one")
	}
	number := func() (uint64, bool) {
		t := ps.next()
		u, err := strconv.ParseUint(t.text, 0, 64)
		if t.kind != tWord || err != nil {
			ps.fail(t.pos, "expected a number")
			return 0, false
		}
		return u, true
	}
	n := bitNode{f: f}
	var ok bool
	if n.mask, ok = number(); !ok {
		return nil
	}
	nt := ps.peek()
	if op, isCmp := cmpWords[nt.text]; isCmp && op != opContains && op != opMatches && (nt.kind == tOp || nt.kind == tWord) {
		ps.next()
		n.cmp, n.op = true, op
		if n.v, ok = number(); !ok {
			return nil
		}
	}
	return n
}

func (ps *parser) compare(f *field, op cmpOp) node {
	t := ps.next()
	if t.kind != tWord && t.kind != tString {
		return ps.fail(t.pos, "expected a value")
	}
	// A field of the same kind on the right compares two fields; a word
	// that names a field of another kind is read as a literal, so its
	// error says why it is not one.
	if g, ok := lookupField(t.text); ok && t.kind == tWord && op != opContains && op != opMatches && sameKind(f, g) {
		ps.conv = ps.conv || g.conv
		return ps.fieldCompare(f, g, op, t.pos)
	}
	switch op {
	case opMatches:
		if f.kind != kString {
			return ps.fail(t.pos, f.name+" is not a string: matches needs one")
		}
		re, err := regexp.Compile(t.text)
		if err != nil {
			return ps.fail(t.pos, "bad regular expression: "+err.Error())
		}
		return matchNode{f: f, re: re}
	case opContains:
		if f.kind != kString && f.kind != kBytes {
			return ps.fail(t.pos, f.name+" is not a string: contains needs one")
		}
		return cmpNode{f: f, op: op, v: value{k: f.kind, s: []byte(t.text)}}
	}
	v, err := parseValue(f, t)
	if err != "" {
		return ps.fail(t.pos, err)
	}
	if v.k == kPrefix && op != opEq && op != opNe {
		return ps.fail(t.pos, "a prefix takes == or != only")
	}
	if (op != opEq && op != opNe) && !f.kind.ordered() {
		return ps.fail(t.pos, f.name+" has no order: use == or !=")
	}
	return cmpNode{f: f, op: op, v: v}
}

// sameKind reports whether two fields' values compare with each other.
func sameKind(a, b *field) bool {
	num := func(k kind) bool { return k == kUint || k == kBool }
	return a.kind != kNone && (a.kind == b.kind || num(a.kind) && num(b.kind))
}

// fieldCompare is "field OP field", both of one kind.
func (ps *parser) fieldCompare(a, b *field, op cmpOp, pos int) node {
	if (op != opEq && op != opNe) && !a.kind.ordered() {
		return ps.fail(pos, a.name+" has no order: use == or !=")
	}
	return fieldCmpNode{a: a, b: b, op: op}
}

// set is "in {v v lo..hi ...}".
func (ps *parser) set(f *field) node {
	open := ps.next()
	if open.text != "{" {
		return ps.fail(open.pos, "expected {")
	}
	n := setNode{f: f}
	for ps.err == nil {
		if ps.isOp("}") {
			ps.next()
			if len(n.lo) == 0 {
				return ps.fail(open.pos, "empty set")
			}
			return n
		}
		if ps.isOp(",") {
			ps.next()
			continue
		}
		t := ps.next()
		if t.kind == tEOF {
			return ps.fail(open.pos, "unclosed set")
		}
		lo, err := parseValue(f, t)
		if err != "" {
			return ps.fail(t.pos, err)
		}
		hi := lo
		if ps.isOp("..") {
			ps.next()
			ht := ps.next()
			if hi, err = parseValue(f, ht); err != "" {
				return ps.fail(ht.pos, err)
			}
			if !f.kind.ordered() {
				return ps.fail(ht.pos, f.name+" has no order: no ranges")
			}
		}
		n.lo, n.hi = append(n.lo, lo), append(n.hi, hi)
	}
	return nil
}

// parseValue reads a literal as the field's kind.
func parseValue(f *field, t token) (value, string) {
	s := t.text
	switch f.kind {
	case kUint:
		if t.kind == tString {
			return value{}, f.name + " is a number"
		}
		u, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			if b, ok := boolWord(s); ok {
				return value{k: kUint, u: b}, ""
			}
			return value{}, fmt.Sprintf("%q is not a number (%s is one)", s, f.name)
		}
		return value{k: kUint, u: u}, ""
	case kFloat:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return value{}, fmt.Sprintf("%q is not a number of seconds", s)
		}
		return value{k: kFloat, f: x}, ""
	case kBool:
		b, ok := boolWord(s)
		if !ok {
			return value{}, fmt.Sprintf("%q is not 1, 0, True or False", s)
		}
		return value{k: kUint, u: b}, ""
	case kAddr:
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return value{}, fmt.Sprintf("%q is not an address prefix", s)
			}
			return value{k: kPrefix, p: p.Masked()}, ""
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return value{}, fmt.Sprintf("%q is not an address", s)
		}
		return value{k: kAddr, a: a}, ""
	case kMAC:
		var mac [6]byte
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
		if len(parts) != 6 {
			return value{}, fmt.Sprintf("%q is not an Ethernet address", s)
		}
		for i, p := range parts {
			b, err := strconv.ParseUint(p, 16, 8)
			if err != nil {
				return value{}, fmt.Sprintf("%q is not an Ethernet address", s)
			}
			mac[i] = byte(b)
		}
		return value{k: kMAC, s: mac[:]}, ""
	default: // kString, kBytes
		return value{k: f.kind, s: []byte(s)}, ""
	}
}

func boolWord(s string) (uint64, bool) {
	switch s {
	case "1", "True", "true", "TRUE":
		return 1, true
	case "0", "False", "false", "FALSE":
		return 0, true
	}
	return 0, false
}

// unknownField names the fields nearest to name.
func unknownField(name string) string {
	type cand struct {
		n string
		d int
	}
	var cs []cand
	for _, f := range fieldList {
		if d := distance(name, f.name); d <= max(2, len(name)/4) {
			cs = append(cs, cand{f.name, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	msg := fmt.Sprintf("unknown field %q", name)
	if len(cs) > 0 {
		var names []string
		for _, c := range cs[:min(len(cs), 4)] {
			names = append(names, c.n)
		}
		msg += " (did you mean " + strings.Join(names, ", ") + "?)"
	}
	return msg
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
