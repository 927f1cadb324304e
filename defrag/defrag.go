// Package defrag puts fragmented IP datagrams back together, as far as
// the analysis needs them: their transport header and their length, not
// their payload. A datagram is handed on when its last missing fragment
// arrives, decoded as one packet at that fragment's frame, as Wireshark
// does with IP reassembly on (its default).
//
// It sits between decode and the flow table: give it every packet decode
// marks Fragment, and feed the table what it returns instead. Fragments
// are matched by source, destination, protocol and identification (IPv4
// and IPv6 alike). Memory is fixed (allocated at the first fragment) and
// nothing is allocated per packet; a datagram that does not complete within the
// timeout (packet time), or that a full table evicts, is dropped and
// counted.
package defrag

import (
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/netblame/netblame/decode"
)

// headerBytes is how much of a datagram's transport data is kept: a TCP
// header with every option (60 bytes) and the 64 payload bytes after it
// that correlate hashes to recognise a connection.
const headerBytes = 128

// maxRanges bounds the separate byte ranges a datagram may have received
// at a time (fragments that touch merge into one range); a datagram with
// more is dropped. Fragments rarely arrive so scattered.
const maxRanges = 8

// DefaultTimeout is how long a datagram may wait for its fragments, in
// packet time (Linux's ipfrag_time).
const DefaultTimeout = 30 * time.Second

// Stats are the table's counters.
type Stats struct {
	Fragments uint64 // fragments given to Add
	Completed uint64 // datagrams put together
	Expired   uint64 // datagrams dropped after the timeout
	Evicted   uint64 // datagrams dropped to make room
	Dropped   uint64 // datagrams dropped as unusable (too many pieces, inconsistent lengths)
	Pending   int    // datagrams waiting now
}

type key struct {
	src, dst [16]byte
	id       uint32
	proto    decode.IPProto
	version  uint8
}

// datagram is one datagram being put together.
type datagram struct {
	key   key
	first int64          // time of its first fragment
	end   int            // transport length, known once the last fragment came; -1 before
	have  [maxRanges]rng // byte ranges received, sorted and merged
	n     int
	hdr   [headerBytes]byte
	hmask [headerBytes / 64]uint64 // bit i: hdr[i] was captured
	head  decode.Packet            // the first fragment, decoded
	gotHd bool                     // head is set
	next  int32                    // the next older datagram (eviction order), -1 at the end
	prev  int32
}

type rng struct{ from, to int }

// Table holds the datagrams being put together. Make one with New; it is
// not safe for concurrent use.
type Table struct {
	capacity int
	slots    []datagram
	free     []int32
	index    []int32 // open addressing over slots: slot+1, 0 empty
	mask     uint64
	oldest   int32 // eviction order: oldest first
	newest   int32
	timeout  int64
	stats    Stats
	out      [headerBytes]byte // the transport bytes the last completed datagram's offsets index
	outLen   int
}

// New makes a table for at most capacity datagrams at a time (0 means
// 1024) that drops a datagram timeout after its first fragment (0 means
// DefaultTimeout). Its memory, 556 bytes a datagram it can hold, is
// allocated at the first fragment: most captures have none.
func New(capacity int, timeout time.Duration) *Table {
	if capacity <= 0 {
		capacity = 1024
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Table{capacity: capacity, oldest: -1, newest: -1, timeout: int64(timeout)}
}

// allocate makes the slots, the free list and the index, at the first
// fragment.
func (t *Table) allocate() {
	size := 1 << bits.Len(uint(2*t.capacity))
	t.slots = make([]datagram, t.capacity)
	t.index = make([]int32, size)
	t.mask = uint64(size - 1)
	t.free = make([]int32, t.capacity)
	for i := range t.free {
		t.free[i] = int32(t.capacity - 1 - i) // pop gives slot 0 first
	}
}

// Take returns the packet to analyse for p, decoded from data and seen at
// ts: p itself when it is not a fragment; whole, filled by Add, when p
// completes its datagram; nil while the datagram waits for more.
func (t *Table) Take(p *decode.Packet, data []byte, ts int64, whole *decode.Packet) *decode.Packet {
	if !p.Has(decode.Fragment) {
		return p
	}
	if t.Add(p, data, ts, whole) {
		return whole
	}
	return nil
}

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.stats }

// Transport returns the bytes the offsets of the last datagram Add put
// together index: its first captured bytes past the IP headers (at most
// 128). They stay valid until the next Add.
func (t *Table) Transport() []byte { return t.out[:t.outLen] }

// Add takes p, a packet decode marked Fragment, decoded from data, seen at
// ts. When it completes its datagram, Add fills whole with the datagram
// decoded as one packet (decode.Packet.DecodeReassembled: its offsets
// index bytes the table keeps until the next call) and reports true.
func (t *Table) Add(p *decode.Packet, data []byte, ts int64, whole *decode.Packet) bool {
	if t.slots == nil {
		t.allocate()
	}
	t.stats.Fragments++
	t.expire(ts)
	k := key{src: p.SrcIP, dst: p.DstIP, id: p.IPID, proto: p.Proto, version: p.IPVersion}
	sl := t.lookup(&k)
	if sl < 0 {
		sl = t.create(&k, ts)
	}
	d := &t.slots[sl]

	// The fragment's part of the transport data is [off, off+length); the
	// capture holds its first bytes (all, without a snaplen cut) from
	// data[p.TransOffset:].
	off, length := int(p.FragOffset), p.PayloadLen
	if !p.Has(decode.LaterFragment) {
		// The first fragment: decode went on into its transport header,
		// so its part counts from the end of the IP headers.
		length = p.IPLen - (p.TransOffset - p.NetOffset)
		d.head, d.gotHd = *p, true
	}
	capStart := min(p.TransOffset, len(data))
	captured := data[capStart:min(capStart+max(length, 0), len(data))]
	if length < 0 || !d.add(off, off+length) {
		t.drop(sl)
		t.stats.Dropped++
		return false
	}
	if !p.Has(decode.MoreFragments) {
		if d.end >= 0 && d.end != off+length {
			t.drop(sl)
			t.stats.Dropped++
			return false
		}
		d.end = off + length
	}
	for i := 0; i < len(captured) && off+i < headerBytes; i++ {
		w, bit := (off+i)/64, uint64(1)<<((off+i)%64)
		if d.hmask[w]&bit == 0 { // the first copy of a byte wins
			d.hdr[off+i] = captured[i]
			d.hmask[w] |= bit
		}
	}
	if !d.gotHd || d.end < 0 || d.n != 1 || d.have[0].from != 0 || d.have[0].to != d.end {
		return false
	}

	// Complete: the captured bytes from the start, then the datagram.
	n := bits.TrailingZeros64(^d.hmask[0])
	if n == 64 {
		n += bits.TrailingZeros64(^d.hmask[1])
	}
	t.outLen = copy(t.out[:], d.hdr[:n])
	*whole = d.head
	end := d.end
	t.drop(sl)
	t.stats.Completed++
	_ = whole.DecodeReassembled(t.out[:n], end) // a bad header leaves the network layer, as Decode does
	return true
}

// add records the range [from, to) as received, merged with the ranges
// it touches. It reports false when the datagram would have more than
// maxRanges separate ranges.
func (d *datagram) add(from, to int) bool {
	if from >= to {
		return true
	}
	var all [maxRanges + 1]rng
	n, placed := 0, false
	for _, r := range d.have[:d.n] {
		if !placed && from < r.from {
			all[n], n, placed = rng{from, to}, n+1, true
		}
		all[n], n = r, n+1
	}
	if !placed {
		all[n], n = rng{from, to}, n+1
	}
	m := 0
	for _, r := range all[:n] {
		if m > 0 && r.from <= all[m-1].to {
			all[m-1].to = max(all[m-1].to, r.to)
		} else {
			all[m], m = r, m+1
		}
	}
	if m > maxRanges {
		return false
	}
	d.n = copy(d.have[:], all[:m])
	return true
}

func hashKey(k *key) uint64 {
	h := binary.LittleEndian.Uint64(k.src[:8]) ^ binary.LittleEndian.Uint64(k.src[8:])*0x9e3779b97f4a7c15
	h ^= binary.LittleEndian.Uint64(k.dst[:8])*0xc2b2ae3d27d4eb4f ^ binary.LittleEndian.Uint64(k.dst[8:])
	h ^= uint64(k.id)<<16 | uint64(k.proto)<<8 | uint64(k.version)
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// lookup returns the slot of k, or -1.
func (t *Table) lookup(k *key) int32 {
	for i := hashKey(k) & t.mask; ; i = (i + 1) & t.mask {
		e := t.index[i]
		if e == 0 {
			return -1
		}
		if t.slots[e-1].key == *k {
			return e - 1
		}
	}
}

// create starts a datagram for k, evicting the oldest when the table is
// full.
func (t *Table) create(k *key, ts int64) int32 {
	if len(t.free) == 0 {
		t.drop(t.oldest)
		t.stats.Evicted++
	}
	sl := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	d := &t.slots[sl]
	*d = datagram{key: *k, first: ts, end: -1, next: -1, prev: t.newest}
	if t.newest >= 0 {
		t.slots[t.newest].next = sl
	} else {
		t.oldest = sl
	}
	t.newest = sl
	i := hashKey(k) & t.mask
	for t.index[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.index[i] = sl + 1
	t.stats.Pending++
	return sl
}

// drop forgets datagram sl.
func (t *Table) drop(sl int32) {
	d := &t.slots[sl]
	// Remove from the index, shifting later entries of the run back so
	// that no lookup stops early.
	i := hashKey(&d.key) & t.mask
	for t.index[i] != sl+1 {
		i = (i + 1) & t.mask
	}
	for j := (i + 1) & t.mask; t.index[j] != 0; j = (j + 1) & t.mask {
		home := hashKey(&t.slots[t.index[j]-1].key) & t.mask
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.index[i] = t.index[j]
			i = j
		}
	}
	t.index[i] = 0
	if d.prev >= 0 {
		t.slots[d.prev].next = d.next
	} else {
		t.oldest = d.next
	}
	if d.next >= 0 {
		t.slots[d.next].prev = d.prev
	} else {
		t.newest = d.prev
	}
	t.free = append(t.free, sl)
	t.stats.Pending--
}

// expire drops the datagrams older than the timeout.
func (t *Table) expire(now int64) {
	for t.oldest >= 0 && now-t.slots[t.oldest].first > t.timeout {
		t.drop(t.oldest)
		t.stats.Expired++
	}
}
