package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tEOF   tokKind = iota
	tID            // identifier, keyword, IPv4 address or partial network ("10.1")
	tNum           // a plain number (decimal, 0x hex, leading-0 octal)
	tAddr6         // an IPv6 address
	tMAC           // an Ethernet address
	tEsc           // a backslash-escaped word, as in "proto \tcp"
	tPunct         // operators and brackets; text holds the operator
)

type token struct {
	kind tokKind
	text string
	num  uint32
	pos  int
}

// lex splits an expression into tokens. Words are scanned like libpcap's
// scanner does: a run of letters, digits, '.', '-' and '_' is one word, so
// "100-200" (a port range) and "tcp-syn" are single tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case isWordByte(c) || c == ':':
			if n, kind := scanAddr(src[i:]); n > 0 {
				toks = append(toks, token{kind: kind, text: src[i : i+n], pos: i})
				i += n
				continue
			}
			if c == ':' {
				toks = append(toks, token{kind: tPunct, text: ":", pos: i})
				i++
				continue
			}
			j := i
			for j < len(src) && (isWordByte(src[j]) || src[j] == '.' || src[j] == '-') {
				j++
			}
			// A word cannot end in '-' or '_' (libpcap's rule), so "len-" leaves the '-'.
			for j > i+1 && (src[j-1] == '-' || src[j-1] == '_') {
				j--
			}
			w := src[i:j]
			if v, ok := parseNum(w); ok {
				toks = append(toks, token{kind: tNum, text: w, num: v, pos: i})
			} else {
				toks = append(toks, token{kind: tID, text: w, pos: i})
			}
			i = j
			continue
		case c == '\\':
			j := i + 1
			for j < len(src) && !strings.ContainsRune(" \t\n\r!()", rune(src[j])) {
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{Expr: src, Pos: i, Msg: "a backslash must be followed by a name"}
			}
			toks = append(toks, token{kind: tEsc, text: src[i+1 : j], pos: i})
			i = j
			continue
		}
		// Operators: longest match first.
		op := ""
		for _, o := range []string{"&&", "||", "==", "!=", "<=", ">=", "<<", ">>"} {
			if strings.HasPrefix(src[i:], o) {
				op = o
				break
			}
		}
		if op == "" && strings.ContainsRune("()[]/+-*%&|^=<>!", rune(c)) {
			op = src[i : i+1]
		}
		if op == "" {
			return nil, &SyntaxError{Expr: src, Pos: i, Msg: "unexpected character " + strconv.QuoteRune(rune(c))}
		}
		toks = append(toks, token{kind: tPunct, text: op, pos: i})
		i += len(op)
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanAddr recognises an IPv6 address or a colon-separated MAC address at
// the start of s and returns its length, or 0. "13:1" (a byte range in
// "tcp[13:1]") is neither, so it is left to the word scanner.
func scanAddr(s string) (int, tokKind) {
	n := 0
	for n < len(s) && (isHex(s[n]) || s[n] == ':' || s[n] == '.') {
		n++
	}
	w := s[:n]
	if !strings.Contains(w, ":") {
		return 0, tEOF
	}
	// A following word byte means this is not a whole address (e.g. "fe80::1x").
	if n < len(s) && (isWordByte(s[n]) || s[n] == '-') {
		return 0, tEOF
	}
	if isMAC(w) {
		return n, tMAC
	}
	if a, err := netip.ParseAddr(w); err == nil && a.Is6() {
		return n, tAddr6
	}
	return 0, tEOF
}

func isMAC(w string) bool {
	parts := strings.Split(w, ":")
	if len(parts) != 6 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 2 || !isHex(p[0]) || !isHex(p[len(p)-1]) {
			return false
		}
	}
	return true
}

// parseNum accepts what libpcap's scanner calls a number: decimal, 0x
// hexadecimal, or octal with a leading zero, fitting in 32 bits.
func parseNum(w string) (uint32, bool) {
	if w == "" || w[0] < '0' || w[0] > '9' {
		return 0, false
	}
	base := 10
	digits := w
	switch {
	case len(w) > 2 && (w[:2] == "0x" || w[:2] == "0X"):
		base, digits = 16, w[2:]
	case len(w) > 1 && w[0] == '0':
		base, digits = 8, w[1:]
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
