package correlate

// rec is what correlation keeps of one TCP packet: a fixed 32-byte value
// with no pointers, so a million of them cost 32 MB and nothing for the
// garbage collector to scan.
type rec struct {
	ts    int64  // capture timestamp, ns since the epoch, in that file's clock
	frame uint32 // 1-based frame number in its file
	flow  uint32 // index of its flow in the capture's flow list
	seq   uint32
	ack   uint32
	plen  uint16 // TCP payload length the IP header implies (not what was captured)
	// ident tells copies of one segment apart: the IPv4 ID folded with the
	// TCP timestamp value, both of which a retransmission changes and
	// plain NAT keeps.
	ident uint16
	win   uint16 // raw advertised window
	flags uint8  // TCP flags, low byte (FIN..CWR)
	bits  uint8  // recDir, recTS, recTrunc
}

// Bits of rec.bits.
const (
	recDir   = 1 << iota // direction: set for server to client
	recTS                // the TCP timestamp option was present
	recTrunc             // the capture cut the packet short
)

// TCP flags in rec.flags.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// Directions of a packet within its flow.
const (
	c2s = 0 // client to server
	s2c = 1 // server to client
)

func (r *rec) dir() int { return int(r.bits & recDir) }

// seqLen is how much sequence space the packet occupies: payload plus one
// for SYN and one for FIN.
func (r *rec) seqLen() uint32 {
	n := uint32(r.plen)
	if r.flags&flagSYN != 0 {
		n++
	}
	if r.flags&flagFIN != 0 {
		n++
	}
	return n
}

// flagClass is the part of the flags that identifies a packet for
// matching: SYN, FIN and RST (ACK and PSH may be set differently on two
// copies of the same data).
func (r *rec) flagClass() uint8 { return r.flags & (flagSYN | flagFIN | flagRST) }

// chunkBits sizes the chunks records are stored in: 64 Ki records (2 MiB).
// Chunks never move once allocated, so storing n records allocates n
// records' worth of memory, not the 2n a doubling slice costs.
const chunkBits = 16
const chunkLen = 1 << chunkBits

// recStore is an append-only list of records kept in fixed-size chunks.
type recStore struct {
	chunks [][]rec
	n      int
}

// add appends a zero record and returns it.
func (s *recStore) add() *rec {
	c := s.n >> chunkBits
	if c == len(s.chunks) {
		// The first chunk grows gradually so small captures stay small;
		// later ones are allocated whole.
		if c == 0 {
			s.chunks = append(s.chunks, make([]rec, 0, 256))
		} else {
			s.chunks = append(s.chunks, make([]rec, 0, chunkLen))
		}
	}
	ch := &s.chunks[c]
	if len(*ch) == cap(*ch) {
		n := make([]rec, len(*ch), min(2*cap(*ch), chunkLen))
		copy(n, *ch)
		*ch = n
	}
	*ch = (*ch)[:len(*ch)+1]
	s.n++
	return &(*ch)[len(*ch)-1]
}

// at returns record i.
func (s *recStore) at(i int32) *rec {
	return &s.chunks[i>>chunkBits][i&(chunkLen-1)]
}

// len returns how many records are stored.
func (s *recStore) len() int { return s.n }

// flowChunk is how many flows a chunk of a flowStore holds.
const flowChunk = 1 << 10

// flowStore is an append-only list of flows in fixed-size chunks, so that
// growing it never copies (a doubling slice of 100,000 flows would
// allocate several times their size).
type flowStore struct {
	chunks [][]flow
	n      int
}

// add appends f and returns its index.
func (s *flowStore) add(f flow) int32 {
	c := s.n / flowChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]flow, 0, flowChunk))
	}
	s.chunks[c] = append(s.chunks[c], f)
	s.n++
	return int32(s.n - 1)
}

// at returns flow i.
func (s *flowStore) at(i int32) *flow { return &s.chunks[i/flowChunk][i%flowChunk] }

// len returns how many flows are stored.
func (s *flowStore) len() int { return s.n }
