package defrag

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/ipsum"
	"github.com/netblame/netblame/internal/pkttest"
)

// A TCP segment with every common option: MSS, SACK-permitted, timestamps,
// window scale (40 bytes of options, a 60-byte header).
func tcpSegment(payload int) []byte {
	nops := make([]byte, 20)
	for i := range nops {
		nops[i] = 1
	}
	opts := pkttest.Cat(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(123456, 0), []byte{1}, pkttest.OptWScale(7), nops)
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i)
	}
	h := pkttest.TCP{Sport: 12345, Dport: 80, Seq: 1000, Ack: 2000, Flags: pkttest.SYN | pkttest.ACK, Win: 8192, Opts: opts}
	return h.Bytes(data)
}

// frame4 is an Ethernet frame of an IPv4 datagram (or fragment) carrying
// data at fragment offset off (bytes), with MF set when more.
func frame4(id uint16, off int, more bool, data []byte) []byte {
	f := make([]byte, 14, 14+20+len(data))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(data)))
	binary.BigEndian.PutUint16(ip[4:], id)
	ff := uint16(off / 8)
	if more {
		ff |= 0x2000
	}
	binary.BigEndian.PutUint16(ip[6:], ff)
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ipsum.Checksum(0, ip))
	return append(append(f, ip...), data...)
}

// frame6 is the same over IPv6, with a fragment header unless whole.
func frame6(id uint32, off int, more, whole bool, data []byte) []byte {
	f := make([]byte, 14, 14+48+len(data))
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := make([]byte, 40)
	ip[0], ip[6], ip[7] = 0x60, 6, 64
	ip[8], ip[23] = 0xfd, 1
	ip[24], ip[39] = 0xfd, 2
	body := data
	if !whole {
		ip[6] = 44
		fh := make([]byte, 8)
		fh[0] = 6
		of := uint16(off)
		if more {
			of |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], of)
		binary.BigEndian.PutUint32(fh[4:], id)
		body = append(fh, data...)
	}
	binary.BigEndian.PutUint16(ip[4:], uint16(len(body)))
	return append(append(f, ip...), body...)
}

// split cuts data at the given offsets (multiples of 8) into pieces.
func split(data []byte, cuts []int) [][2]int {
	var pieces [][2]int
	from := 0
	for _, c := range append(cuts, len(data)) {
		if c > from {
			pieces = append(pieces, [2]int{from, c})
			from = c
		}
	}
	return pieces
}

// sameTransport fails unless the reassembled packet carries what the
// unfragmented datagram's decode carries.
func sameTransport(t *testing.T, what string, got, want *decode.Packet) {
	t.Helper()
	if !got.Has(decode.Reassembled) || got.Has(decode.Fragment) || got.Has(decode.MoreFragments) {
		t.Errorf("%s: flags %b", what, got.Flags)
	}
	type view struct {
		layer          decode.Layer
		proto          decode.IPProto
		src, dst       [16]byte
		sport, dport   uint16
		seq, ack       uint32
		flags          decode.TCPFlags
		win            uint16
		mss            uint16
		ws             uint8
		tsval, tsecr   uint32
		hlen           uint8
		ipLen, payload int
		opts           decode.Flags
	}
	const optFlags = decode.HasMSS | decode.HasWScale | decode.HasSACKPerm | decode.HasTimestamps | decode.HasSACK
	v := func(p *decode.Packet) view {
		return view{p.Layer, p.Proto, p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p.Seq, p.Ack, p.TCPFlags, p.Window,
			p.MSS, p.WScale, p.TSVal, p.TSEcr, p.TCPHeaderLen, p.IPLen, p.PayloadLen, p.Flags & optFlags}
	}
	if g, w := v(got), v(want); g != w {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	// The payload is not kept: what the offsets reach is the few bytes
	// after the header that the table holds, and Truncated says so.
	if got.CapPayloadLen > want.CapPayloadLen || got.Has(decode.Truncated) != (got.CapPayloadLen < got.PayloadLen) {
		t.Errorf("%s: %d of %d payload bytes at hand, truncated %v", what, got.CapPayloadLen, got.PayloadLen, got.Has(decode.Truncated))
	}
}

// Every way of cutting a segment (the TCP header itself cut in two
// included) and every order of arrival, over IPv4 and IPv6, gives the
// datagram decode reads from the unfragmented frame, at the fragment that
// completes it, and nothing before.
func TestReassemblesAnyCutAnyOrder(t *testing.T) {
	seg := tcpSegment(100)
	r := rand.New(rand.NewPCG(1, 2))
	for _, v6 := range []bool{false, true} {
		var want decode.Packet
		whole := frame4(7, 0, false, seg)
		if v6 {
			whole = frame6(7, 0, false, true, seg)
		}
		if err := want.Decode(whole, decode.LinkEthernet); err != nil {
			t.Fatal(err)
		}
		for _, cuts := range [][]int{{8}, {16, 64}, {24, 32, 48, 80, 120}, {56}, {8, 16, 24, 32, 40, 48, 56}} {
			pieces := split(seg, cuts)
			for round := range 6 {
				order := r.Perm(len(pieces))
				if round == 0 {
					order = nil
					for i := range pieces {
						order = append(order, i)
					}
				}
				tab := New(16, 0)
				var p, got decode.Packet
				done := 0
				for n, i := range order {
					pc := pieces[i]
					more := pc[1] < len(seg)
					f := frame4(7, pc[0], more, seg[pc[0]:pc[1]])
					if v6 {
						f = frame6(7, pc[0], more, false, seg[pc[0]:pc[1]])
					}
					_ = p.Decode(f, decode.LinkEthernet)
					if !p.Has(decode.Fragment) {
						t.Fatalf("piece %v not a fragment", pc)
					}
					if tab.Add(&p, f, int64(n), &got) {
						done++
						if n != len(order)-1 {
							t.Errorf("v6 %v cuts %v order %v: complete at piece %d of %d", v6, cuts, order, n+1, len(order))
						}
					}
				}
				if done != 1 {
					t.Fatalf("v6 %v cuts %v order %v: completed %d times", v6, cuts, order, done)
				}
				sameTransport(t, "reassembled", &got, &want)
				if st := tab.Stats(); st.Pending != 0 || st.Completed != 1 {
					t.Errorf("stats %+v", st)
				}
			}
		}
	}
}

// Duplicated and overlapping fragments are absorbed; the first copy of a
// header byte wins.
func TestDuplicatesAndOverlaps(t *testing.T) {
	seg := tcpSegment(64)
	var want, p, got decode.Packet
	_ = want.Decode(frame4(9, 0, false, seg), decode.LinkEthernet)
	tab := New(4, 0)
	pieces := [][3]int{{0, 32, 1}, {0, 32, 1}, {16, 64, 1}, {24, 48, 1}, {64, len(seg), 0}}
	completed := 0
	for n, pc := range pieces {
		f := frame4(9, pc[0], pc[2] == 1, seg[pc[0]:pc[1]])
		_ = p.Decode(f, decode.LinkEthernet)
		if tab.Add(&p, f, int64(n), &got) {
			completed++
		}
	}
	if completed != 1 {
		t.Fatalf("completed %d times", completed)
	}
	sameTransport(t, "with duplicates", &got, &want)
}

// A datagram missing a piece never completes: it expires after the
// timeout, and a full table evicts its oldest datagram.
func TestExpiryAndEviction(t *testing.T) {
	seg := tcpSegment(64)
	tab := New(2, time.Second)
	var p, got decode.Packet
	add := func(id uint16, off, to int, more bool, ts int64) bool {
		f := frame4(id, off, more, seg[off:to])
		_ = p.Decode(f, decode.LinkEthernet)
		return tab.Add(&p, f, ts, &got)
	}
	add(1, 0, 32, true, 0) // its end never comes
	add(2, 0, 32, true, 1)
	add(3, 0, 32, true, 2) // evicts 1
	if st := tab.Stats(); st.Evicted != 1 || st.Pending != 2 {
		t.Fatalf("after a third datagram in a table of 2: %+v", st)
	}
	if add(1, 32, len(seg), false, 3) { // 1's first piece is gone (and 2 is evicted)
		t.Fatal("an evicted datagram completed")
	}
	add(4, 0, 8, true, int64(3*time.Second)) // 3 and the second 1 expire
	if st := tab.Stats(); st.Evicted != 2 || st.Expired != 2 || st.Pending != 1 || st.Completed != 0 {
		t.Fatalf("after the timeout: %+v", st)
	}
}

// Add allocates nothing.
func TestAddAllocatesNothing(t *testing.T) {
	seg := tcpSegment(64)
	f1, f2 := frame4(5, 0, true, seg[:40]), frame4(5, 40, false, seg[40:])
	var p1, p2, got decode.Packet
	_ = p1.Decode(f1, decode.LinkEthernet)
	_ = p2.Decode(f2, decode.LinkEthernet)
	tab := New(8, 0)
	if n := testing.AllocsPerRun(100, func() {
		tab.Add(&p1, f1, 1, &got)
		if !tab.Add(&p2, f2, 2, &got) {
			t.Fatal("not completed")
		}
	}); n != 0 {
		t.Fatalf("%v allocations a datagram", n)
	}
}

// FuzzAdd cuts a segment as the input says and feeds the pieces in the
// order it says, some twice and some not at all: whatever happens, nothing
// panics, and a datagram that completes is the unfragmented one.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{3, 7, 1, 0, 2}, false)
	f.Add([]byte{1, 1, 1, 1, 9, 200, 0}, true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, in []byte, v6 bool) {
		seg := tcpSegment(80)
		var want, p, got decode.Packet
		whole := frame4(3, 0, false, seg)
		if v6 {
			whole = frame6(3, 0, false, true, seg)
		}
		_ = want.Decode(whole, decode.LinkEthernet)
		tab := New(4, time.Second)
		for n, b := range in {
			from := int(b&15) * 8 % len(seg)
			to := min(from+8*(1+int(b>>4)), len(seg))
			more := to < len(seg)
			f := frame4(3, from, more, seg[from:to])
			if v6 {
				f = frame6(3, from, more, false, seg[from:to])
			}
			if err := p.Decode(f, decode.LinkEthernet); err != nil && !p.Has(decode.Fragment) {
				continue
			}
			if !p.Has(decode.Fragment) {
				continue // a piece that is the whole segment
			}
			if tab.Add(&p, f, int64(n), &got) {
				sameTransport(t, "fuzzed", &got, &want)
			}
		}
	})
}

// The table's memory, allocated at the first fragment, is the 556 bytes a
// datagram the doc of New gives.
func TestMemoryPerDatagram(t *testing.T) {
	tab := New(1024, 0)
	seg := tcpSegment(64)
	f := frame4(1, 0, true, seg[:32])
	var p, got decode.Packet
	_ = p.Decode(f, decode.LinkEthernet)
	tab.Add(&p, f, 0, &got)
	bytes := len(tab.slots)*int(unsafe.Sizeof(datagram{})) + 4*len(tab.index) + 4*cap(tab.free)
	perDatagram := bytes / tab.capacity
	t.Logf("%d bytes for %d datagrams: %d a datagram", bytes, tab.capacity, perDatagram)
	if perDatagram > 600 {
		t.Errorf("%d bytes a datagram: update New's doc", perDatagram)
	}
}
