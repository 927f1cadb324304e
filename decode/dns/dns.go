// Package dns parses DNS messages (RFC 1035) in place and without
// allocating: the header, the first question and the answer records, with
// compressed names expanded into the Message's own scratch space. It reads
// what tshark's dns.* fields show (query name and type, response flag,
// rcode, answer names and A/AAAA/CNAME data) and no more: no EDNS options,
// no DNSSEC records beyond their type.
//
// A Message is reused from packet to packet; Parse overwrites it. Names and
// record data are views into the message or into the Message's scratch,
// valid until the next Parse.
package dns

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Record types and classes the package names.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypePTR   = 12
	TypeMX    = 15
	TypeTXT   = 16
	TypeAAAA  = 28
	TypeSRV   = 33
	TypeOPT   = 41
	TypeHTTPS = 65
	ClassIN   = 1
)

// MaxRecords is how many resource records (of all three sections) a
// Message keeps; the header's counts say how many there were.
const MaxRecords = 32

// Section is where a record was: answer, authority or additional.
type Section uint8

// Sections.
const (
	Answer Section = iota
	Authority
	Additional
)

// Ports DNS is carried on: DNS, multicast DNS and LLMNR.
const (
	Port      = 53
	PortMDNS  = 5353
	PortLLMNR = 5355
)

// Message is one parsed DNS message.
type Message struct {
	ID    uint16
	Flags uint16 // QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode, as on the wire
	// Counts of the four sections, as the header gives them.
	QDCount, ANCount, NSCount, ARCount uint16
	// Question is the first question (when QDCount > 0 and it parsed).
	Question    Question
	HasQuestion bool
	// Records holds the first NRecords resource records, in message order.
	Records  [MaxRecords]Record
	NRecords int

	// ErrOffset is where the question or record Parse failed on starts.
	ErrOffset int

	scratch [4096]byte
	used    int
}

// Question is a question entry.
type Question struct {
	Name        []byte // dotted, without the final dot; "<Root>" for the root, as tshark shows it
	Type, Class uint16
}

// Record is a resource record.
type Record struct {
	Section     Section
	Name        []byte
	Type, Class uint16 // Class with the mDNS cache-flush bit cleared
	TTL         uint32
	Data        []byte // the raw RDATA
	// Target is the name a CNAME, NS or PTR record points to, an MX
	// record's exchange or an SOA record's primary name server, expanded.
	Target []byte
}

// Response reports whether the message is a response (QR set).
func (m *Message) Response() bool { return m.Flags&0x8000 != 0 }

// Opcode is the header's opcode (0 a standard query).
func (m *Message) Opcode() uint8 { return uint8(m.Flags>>11) & 0x0f }

// RCode is the header's response code (0 no error, 3 NXDOMAIN).
func (m *Message) RCode() uint8 { return uint8(m.Flags & 0x0f) }

// Addr returns an A or AAAA record's address.
func (r *Record) Addr() (netip.Addr, bool) {
	switch {
	case r.Type == TypeA && len(r.Data) == 4:
		return netip.AddrFrom4([4]byte(r.Data)), true
	case r.Type == TypeAAAA && len(r.Data) == 16:
		return netip.AddrFrom16([16]byte(r.Data)), true
	}
	return netip.Addr{}, false
}

// Errors Parse returns: static values, so a malformed message (common on
// the mDNS and LLMNR ports) costs no allocation. Message.ErrOffset says
// where the entry that failed starts.
var (
	ErrShortHeader = errors.New("dns: message shorter than the 12-byte header")
	ErrShort       = errors.New("dns: message ends inside an entry")
	ErrLoop        = errors.New("dns: compression pointer does not point back")
	ErrLong        = errors.New("dns: name longer than 255 bytes")
	ErrLabel       = errors.New("dns: reserved label type")
	ErrScratch     = errors.New("dns: names exceed the message's scratch space")
)

// Parse parses msg (a UDP payload, or a TCP one without its length prefix:
// see StripTCPLength) into m. A message cut short keeps what was read
// before the cut (the header, the question, the answers before it) and
// returns an error, with ErrOffset set.
func (m *Message) Parse(msg []byte) error {
	m.HasQuestion, m.NRecords, m.used, m.ErrOffset = false, 0, 0, 0
	if len(msg) < 12 {
		return ErrShortHeader
	}
	m.ID = binary.BigEndian.Uint16(msg)
	m.Flags = binary.BigEndian.Uint16(msg[2:])
	m.QDCount = binary.BigEndian.Uint16(msg[4:])
	m.ANCount = binary.BigEndian.Uint16(msg[6:])
	m.NSCount = binary.BigEndian.Uint16(msg[8:])
	m.ARCount = binary.BigEndian.Uint16(msg[10:])
	off := 12
	var err error
	fail := func(err error) error { m.ErrOffset = off; return err }
	for i := range int(m.QDCount) {
		var name []byte
		var next int
		if name, next, err = m.name(msg, off); err != nil {
			return fail(err)
		}
		if next+4 > len(msg) {
			return fail(ErrShort)
		}
		if i == 0 {
			m.Question = Question{Name: name, Type: binary.BigEndian.Uint16(msg[next:]), Class: binary.BigEndian.Uint16(msg[next+2:]) & 0x7fff}
			m.HasQuestion = true
		}
		off = next + 4
	}
	counts := [3]int{int(m.ANCount), int(m.NSCount), int(m.ARCount)}
	for sec := range 3 {
		for range counts[sec] {
			next, err := m.record(msg, off, Section(sec))
			if err != nil {
				return fail(err)
			}
			off = next
		}
	}
	return nil
}

// record parses the resource record at off and returns the offset after it.
func (m *Message) record(msg []byte, off int, sec Section) (int, error) {
	name, next, err := m.name(msg, off)
	if err != nil {
		return 0, err
	}
	if next+10 > len(msg) {
		return 0, ErrShort
	}
	rr := Record{Section: sec, Name: name, Type: binary.BigEndian.Uint16(msg[next:]), Class: binary.BigEndian.Uint16(msg[next+2:]) & 0x7fff,
		TTL: binary.BigEndian.Uint32(msg[next+4:])}
	n := int(binary.BigEndian.Uint16(msg[next+8:]))
	data := next + 10
	if data+n > len(msg) {
		return 0, ErrShort
	}
	rr.Data = msg[data : data+n]
	switch rr.Type {
	case TypeCNAME, TypeNS, TypePTR, TypeSOA: // SOA: the primary name server
		if t, _, err := m.name(msg, data); err == nil {
			rr.Target = t
		}
	case TypeMX: // after the 2-byte preference
		if n >= 3 {
			if t, _, err := m.name(msg, data+2); err == nil {
				rr.Target = t
			}
		}
	}
	if m.NRecords < MaxRecords {
		m.Records[m.NRecords] = rr
		m.NRecords++
	}
	return data + n, nil

}

// name expands the name at off into the scratch space and returns it and
// the offset after its encoding in msg.
func (m *Message) name(msg []byte, off int) (name []byte, next int, err error) {
	start := m.used
	next = -1
	// A pointer may only go back, before the name it is part of: that
	// ends every loop, and real encoders never point forward.
	limit := off
	for jumps := 0; ; jumps++ {
		if off >= len(msg) {
			return nil, 0, ErrShort
		}
		l := int(msg[off])
		switch l & 0xc0 {
		case 0x00:
			if l == 0 {
				if next < 0 {
					next = off + 1
				}
				if m.used == start {
					return m.copyName(start, "<Root>"), next, nil
				}
				m.used-- // the trailing dot
				return m.scratch[start:m.used], next, nil
			}
			if off+1+l > len(msg) {
				return nil, 0, ErrShort
			}
			if m.used-start+l+1 > 255 {
				return nil, 0, ErrLong
			}
			if m.used+l+1 > len(m.scratch) {
				return nil, 0, ErrScratch
			}
			m.used += copy(m.scratch[m.used:], msg[off+1:off+1+l])
			m.scratch[m.used] = '.'
			m.used++
			off += 1 + l
		case 0xc0:
			if off+2 > len(msg) {
				return nil, 0, ErrShort
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if next < 0 {
				next = off + 2
			}
			if ptr >= limit || jumps > 127 {
				return nil, 0, ErrLoop
			}
			off, limit = ptr, ptr
		default:
			return nil, 0, ErrLabel
		}
	}
}

func (m *Message) copyName(start int, s string) []byte {
	if start+len(s) > len(m.scratch) {
		return nil
	}
	m.used = start + copy(m.scratch[start:], s)
	return m.scratch[start:m.used]
}

// StripTCPLength returns the first message of a DNS-over-TCP segment's
// payload, without its 2-byte length prefix, and whether it is all there.
func StripTCPLength(payload []byte) (msg []byte, whole bool) {
	if len(payload) < 2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(payload))
	if len(payload)-2 < n {
		return payload[2:], false
	}
	return payload[2 : 2+n], true
}

// IsPort reports whether port is one DNS is carried on.
func IsPort(port uint16) bool { return port == Port || port == PortMDNS || port == PortLLMNR }
