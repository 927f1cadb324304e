package dns

import (
	"encoding/binary"
	"errors"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"net/netip"
	"testing"
)

// msgBuilder writes DNS messages for the tests.
type msgBuilder struct{ b []byte }

func newMsg(id, flags uint16, qd, an, ns, ar uint16) *msgBuilder {
	m := &msgBuilder{}
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		m.b = binary.BigEndian.AppendUint16(m.b, v)
	}
	return m
}

// name appends labels of a dotted name, ending with a pointer to ptr
// when ptr > 0, else with the root label.
func (m *msgBuilder) name(dotted string, ptr int) *msgBuilder {
	for _, l := range splitDots(dotted) {
		m.b = append(m.b, byte(len(l)))
		m.b = append(m.b, l...)
	}
	if ptr > 0 {
		m.b = binary.BigEndian.AppendUint16(m.b, 0xc000|uint16(ptr))
	} else {
		m.b = append(m.b, 0)
	}
	return m
}

func (m *msgBuilder) u16(v ...uint16) *msgBuilder {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

func (m *msgBuilder) rr(typ uint16, ttl uint32, data []byte) *msgBuilder {
	m.u16(typ, ClassIN)
	m.b = binary.BigEndian.AppendUint32(m.b, ttl)
	m.u16(uint16(len(data)))
	m.b = append(m.b, data...)
	return m
}

func splitDots(s string) []string {
	var out []string
	for s != "" {
		i := 0
		for i < len(s) && s[i] != '.' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

func TestQueryAndResponse(t *testing.T) {
	q := newMsg(0x1234, 0x0100, 1, 0, 0, 0).name("www.example.com", 0).u16(TypeAAAA, ClassIN).b
	var m Message
	if err := m.Parse(q); err != nil {
		t.Fatal(err)
	}
	if m.ID != 0x1234 || m.Response() || !m.HasQuestion || string(m.Question.Name) != "www.example.com" || m.Question.Type != TypeAAAA || m.NRecords != 0 {
		t.Errorf("query: %+v", m.Question)
	}

	// A response: the question at 12, a CNAME whose name points to it and
	// whose target is "cdn" + a pointer to "example.com" (offset 16), then
	// an A for the target and an AAAA in the additional section.
	r := newMsg(0x1234, 0x8183, 1, 2, 0, 1).name("www.example.com", 0).u16(TypeA, ClassIN)
	r.name("", 12) // the CNAME's owner: a pointer to the question name
	cname := (&msgBuilder{}).name("cdn", 16).b
	r.rr(TypeCNAME, 300, cname)
	cdnAt := len(r.b) - len(cname)
	r.name("", cdnAt).rr(TypeA, 60, []byte{192, 0, 2, 7})
	r.name("", cdnAt).rr(TypeAAAA, 60, netip.MustParseAddr("2001:db8::7").AsSlice())
	if err := m.Parse(r.b); err != nil {
		t.Fatal(err)
	}
	if !m.Response() || m.RCode() != 3 || m.Opcode() != 0 || m.NRecords != 3 {
		t.Fatalf("response header: flags %#x, %d records", m.Flags, m.NRecords)
	}
	want := []struct {
		sec          Section
		name, target string
		typ          uint16
		addr         string
	}{
		{Answer, "www.example.com", "cdn.example.com", TypeCNAME, ""},
		{Answer, "cdn.example.com", "", TypeA, "192.0.2.7"},
		{Additional, "cdn.example.com", "", TypeAAAA, "2001:db8::7"},
	}
	for i, w := range want {
		rr := &m.Records[i]
		a, ok := rr.Addr()
		if rr.Section != w.sec || string(rr.Name) != w.name || string(rr.Target) != w.target || rr.Type != w.typ || (ok && a.String() != w.addr) || ok != (w.addr != "") {
			t.Errorf("record %d: %v %q -> %q type %d addr %v; want %+v", i, rr.Section, rr.Name, rr.Target, rr.Type, a, w)
		}
	}
}

func TestRootName(t *testing.T) {
	var m Message
	if err := m.Parse(newMsg(1, 0, 1, 0, 0, 0).name("", 0).u16(TypeNS, ClassIN).b); err != nil || string(m.Question.Name) != "<Root>" {
		t.Errorf("root question %q, %v", m.Question.Name, err)
	}
}

// TestBadMessages: each malformation gives its error and the offset of
// the entry it is in, and what came before it stays parsed.
func TestBadMessages(t *testing.T) {
	long := ""
	for range 5 {
		long += "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij."
	}
	for _, tc := range []struct {
		name     string
		msg      []byte
		err      error
		offset   int
		question bool
	}{
		{"short header", []byte{0, 1, 2}, ErrShortHeader, 0, false},
		{"question cut", newMsg(1, 0, 1, 0, 0, 0).name("example.com", 0).b, ErrShort, 12, false},
		{"answer cut", append(newMsg(1, 0x8000, 1, 1, 0, 0).name("a.b", 0).u16(1, 1).name("", 12).b, 0, 1), ErrShort, 21, true},
		{"pointer to itself", newMsg(1, 0, 1, 0, 0, 0).name("", 12).u16(1, 1).b, ErrLoop, 12, false},
		{"pointer forward", newMsg(1, 0, 1, 0, 0, 0).name("", 40).u16(1, 1).b, ErrLoop, 12, false},
		{"name too long", newMsg(1, 0, 1, 0, 0, 0).name(long[:len(long)-1], 0).u16(1, 1).b, ErrLong, 12, false},
		{"label type 0x40", append(newMsg(1, 0, 1, 0, 0, 0).b, 0x41, 'x', 0, 0, 1, 0, 1), ErrLabel, 12, false},
	} {
		var m Message
		err := m.Parse(tc.msg)
		if !errors.Is(err, tc.err) || m.ErrOffset != tc.offset || m.HasQuestion != tc.question {
			t.Errorf("%s: %v at %d (question %v); want %v at %d (question %v)", tc.name, err, m.ErrOffset, m.HasQuestion, tc.err, tc.offset, tc.question)
		}
	}
}

func TestStripTCPLength(t *testing.T) {
	if msg, whole := StripTCPLength([]byte{0, 3, 'a', 'b', 'c', 'x'}); string(msg) != "abc" || !whole {
		t.Errorf("whole: %q %v", msg, whole)
	}
	if msg, whole := StripTCPLength([]byte{0, 9, 'a'}); string(msg) != "a" || whole {
		t.Errorf("cut: %q %v", msg, whole)
	}
}

func TestParseAllocs(t *testing.T) {
	r := newMsg(7, 0x8180, 1, 1, 0, 0).name("www.example.com", 0).u16(TypeA, ClassIN).name("", 12).rr(TypeA, 1, []byte{1, 2, 3, 4}).b
	bad := newMsg(1, 0, 1, 0, 0, 0).name("", 12).u16(1, 1).b
	var m Message
	if n := testing.AllocsPerRun(1000, func() { _ = m.Parse(r); _ = m.Parse(bad) }); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

func BenchmarkParse(b *testing.B) {
	r := newMsg(7, 0x8180, 1, 1, 0, 0).name("www.example.com", 0).u16(TypeA, ClassIN).name("", 12).rr(TypeA, 1, []byte{1, 2, 3, 4}).b
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(r)))
	for b.Loop() {
		_ = m.Parse(r)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(newMsg(1, 0x0100, 1, 0, 0, 0).name("example.com", 0).u16(1, 1).b)
	f.Add(newMsg(7, 0x8180, 1, 1, 0, 0).name("www.example.com", 0).u16(TypeA, ClassIN).name("", 12).rr(TypeCNAME, 1, []byte{0xc0, 12}).b)
	f.Add(newMsg(1, 0, 1, 0, 0, 0).name("", 12).u16(1, 1).b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m Message
		err := m.Parse(msg)
		names := [][]byte{}
		if m.HasQuestion {
			names = append(names, m.Question.Name)
		}
		if m.NRecords > MaxRecords {
			t.Fatalf("%d records kept", m.NRecords)
		}
		for i := range m.NRecords {
			names = append(names, m.Records[i].Name, m.Records[i].Target)
		}
		for _, n := range names {
			if len(n) > 255 {
				t.Fatalf("name of %d bytes", len(n))
			}
		}
		if err != nil && (m.ErrOffset < 0 || m.ErrOffset > len(msg)) {
			t.Fatalf("error offset %d in a message of %d bytes", m.ErrOffset, len(msg))
		}
	})
}

// BenchmarkVersusGopacket parses the same response with this package and
// with gopacket's layers.DNS (reused, as its DecodingLayerParser would).
func BenchmarkVersusGopacket(b *testing.B) {
	r := newMsg(7, 0x8180, 1, 2, 0, 0).name("www.example.com", 0).u16(TypeA, ClassIN).
		name("", 12).rr(TypeA, 1, []byte{1, 2, 3, 4}).name("", 12).rr(TypeA, 1, []byte{5, 6, 7, 8}).b
	b.Run("netblame", func(b *testing.B) {
		var m Message
		b.ReportAllocs()
		for b.Loop() {
			_ = m.Parse(r)
		}
	})
	b.Run("gopacket", func(b *testing.B) {
		var d layers.DNS
		b.ReportAllocs()
		for b.Loop() {
			_ = d.DecodeFromBytes(r, gopacket.NilDecodeFeedback)
		}
	})
}
