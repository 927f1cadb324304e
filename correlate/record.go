package correlate

// rec is what correlation keeps of one TCP packet: a fixed 40-byte value
// with no pointers, so a million of them cost 40 MB and nothing for the
// garbage collector to scan.
type rec struct {
	ts    int64  // capture timestamp, ns since the epoch, in that file's clock
	frame uint32 // 1-based frame number in its file
	flow  uint32 // index of its flow in the capture's flow list
	seq   uint32
	ack   uint32
	tsval uint32 // TCP timestamp value, 0 when absent
	plen  uint16 // TCP payload length the IP header implies (not what was captured)
	ipid  uint16 // IPv4 identification, 0 for IPv6
	win   uint16 // raw advertised window
	csum  uint16 // TCP checksum as captured
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

// chunkBits sizes the chunks records are stored in: 64 Ki records (2.5 MiB).
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
