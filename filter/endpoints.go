package filter

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/netblame/netblame/linktype"
)

// MatchEndpoints runs a matcher compiled for linktype.Raw on the smallest
// packet between two endpoints: an IPv4 or IPv6 header with proto, and a
// TCP or UDP header with the ports for those protocols (other protocols
// get 8 zero bytes). It answers "would tcpdump keep a packet of this
// flow?" for expressions over addresses, protocols and ports (host, net,
// port, portrange, tcp, udp, ip, ip6, ...), for a flow record or a packet
// already decoded (a datagram reassembled from fragments keeps its
// ports); tests of lengths, TTLs, flags or payload see zeros. A matcher
// for another link type, or addresses of two families, match nothing.
func (m *Matcher) MatchEndpoints(src, dst netip.Addr, proto uint8, sport, dport uint16) bool {
	if m.link != linktype.Raw || src.Is4() != dst.Is4() || !src.IsValid() || !dst.IsValid() {
		return false
	}
	var b [60]byte
	n := 0
	if src.Is4() {
		b[0] = 0x45
		b[8] = 64
		b[9] = proto
		s, d := src.As4(), dst.As4()
		copy(b[12:], s[:])
		copy(b[16:], d[:])
		n = 20
	} else {
		b[0] = 0x60
		b[6] = proto
		b[7] = 64
		s, d := src.As16(), dst.As16()
		copy(b[8:], s[:])
		copy(b[24:], d[:])
		n = 40
	}
	ip := n
	switch proto {
	case 6: // TCP, data offset 5 words
		binary.BigEndian.PutUint16(b[n:], sport)
		binary.BigEndian.PutUint16(b[n+2:], dport)
		b[n+12] = 0x50
		n += 20
	case 17: // UDP
		binary.BigEndian.PutUint16(b[n:], sport)
		binary.BigEndian.PutUint16(b[n+2:], dport)
		binary.BigEndian.PutUint16(b[n+4:], 8)
		n += 8
	default:
		n += 8
	}
	if src.Is4() {
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	} else {
		binary.BigEndian.PutUint16(b[4:], uint16(n-ip))
	}
	return m.Run(b[:n], uint32(n)) != 0
}

// LinkMatcher is one expression compiled for each link type it meets, so
// that it can filter a capture whose interfaces differ (pcapng): the first
// packet of a link type compiles the expression for it. A link type the
// expression cannot be compiled for ("arp" on raw IP) rejects its packets
// and Err reports why. It is safe for concurrent use.
type LinkMatcher struct {
	expr    string
	snaplen uint32

	last   atomic.Pointer[Matcher] // the link type met last: no lock per packet
	mu     sync.RWMutex
	byLink map[linktype.Type]*Matcher
	errs   map[linktype.Type]error
	first  error
}

// NewLinkMatcher checks expr's syntax (compiling it for Ethernet, which
// accepts every primitive the compiler knows) and returns a LinkMatcher
// for it. Errors are *SyntaxError with the position.
func NewLinkMatcher(expr string, snaplen uint32) (*LinkMatcher, error) {
	lm := &LinkMatcher{expr: expr, snaplen: snaplen, byLink: map[linktype.Type]*Matcher{}, errs: map[linktype.Type]error{}}
	m, err := NewMatcher(expr, linktype.Ethernet, snaplen)
	if err != nil {
		return nil, err
	}
	lm.byLink[linktype.Ethernet] = m
	return lm, nil
}

// String returns the expression.
func (lm *LinkMatcher) String() string { return lm.expr }

// For returns the matcher for a link type, compiling it on first use.
func (lm *LinkMatcher) For(link linktype.Type) (*Matcher, error) {
	if m := lm.last.Load(); m != nil && m.link == link {
		return m, nil
	}
	lm.mu.RLock()
	m, ok := lm.byLink[link]
	err := lm.errs[link]
	lm.mu.RUnlock()
	if ok || err != nil {
		if ok {
			lm.last.Store(m)
		}
		return m, err
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if m, ok := lm.byLink[link]; ok {
		return m, nil
	}
	m, err = NewMatcher(lm.expr, link, lm.snaplen)
	if err != nil {
		lm.errs[link] = err
		if lm.first == nil {
			lm.first = err
		}
		return nil, err
	}
	lm.byLink[link] = m
	lm.last.Store(m)
	return m, nil
}

// Match reports whether the expression accepts a frame of the given link
// type (see Matcher.Match); false for a link type it cannot compile for.
func (lm *LinkMatcher) Match(data []byte, wireLen uint32, link linktype.Type) bool {
	m, _ := lm.For(link)
	return m != nil && m.Match(data, wireLen)
}

// Err returns the first link type compilation that failed, or nil.
func (lm *LinkMatcher) Err() error {
	lm.mu.RLock()
	defer lm.mu.RUnlock()
	return lm.first
}
