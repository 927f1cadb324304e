package flowtable

import (
	"encoding/binary"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/ipsum"
)

// fragment cuts an Ethernet/IPv4 frame into fragments of its datagram at
// random multiples of 8 bytes (the TCP header itself cut at times), with
// identification id, in random order one time in three.
func fragment(frame []byte, id uint16, rng *rand.Rand) [][]byte {
	ip := frame[14:]
	data := ip[20:]
	if len(data) <= 8 {
		return [][]byte{frame}
	}
	var cuts []int
	for range 1 + rng.IntN(3) {
		cuts = append(cuts, 8*(1+rng.IntN((len(data)-1)/8)))
	}
	slices.Sort(cuts)
	cuts = append(slices.Compact(cuts), len(data))
	var frames [][]byte
	from := 0
	for _, to := range cuts {
		f := append(append([]byte(nil), frame[:14+20]...), data[from:to]...)
		h := f[14:34]
		binary.BigEndian.PutUint16(h[2:], uint16(20+to-from))
		binary.BigEndian.PutUint16(h[4:], id)
		ff := uint16(from / 8)
		if to < len(data) {
			ff |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(h[6:], ff)
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], ipsum.Checksum(0, h))
		frames = append(frames, f)
		from = to
	}
	if rng.IntN(3) == 0 {
		rng.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
	}
	return frames
}

// The rules script again, with most datagrams cut into fragments sent in
// any order, and now and then a fragment lost. tshark reassembles what it
// can and analyses each segment at the fragment that completes it;
// flowtable fed through defrag must agree frame by frame, on the events,
// the relative numbers and on which frames carry a TCP segment at all.
func TestTsharkLiveFragments(t *testing.T) {
	tshark := tshark40(t)
	rng := rand.New(rand.NewPCG(3, 4))
	path := filepath.Join(t.TempDir(), "fragments.pcap")
	w, err := capfile.Create(path, decode.LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	cut, lost := 0, 0
	for i, p := range rulesScript().pkts {
		frames := [][]byte{p.data}
		if rng.IntN(10) < 7 {
			frames = fragment(p.data, uint16(i+1), rng)
		}
		if len(frames) > 1 {
			cut++
			if rng.IntN(12) == 0 {
				k := rng.IntN(len(frames))
				frames = append(frames[:k], frames[k+1:]...)
				lost++
			}
		}
		for _, f := range frames {
			if err := w.WritePacket(p.ts, f, len(f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d datagrams cut into fragments, %d of them missing one", cut, lost)
	if cut < 30 || lost == 0 {
		t.Fatalf("the capture must hold many fragmented datagrams and some lost fragments")
	}
	checkAgainstTshark(t, tshark, path)

	out, err := exec.Command(tshark, "-r", path, "-n", "-Y", "tcp", "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatal(err)
	}
	a := analyzeCapture(t, path)
	theirs := strings.Fields(string(out))
	for _, f := range theirs {
		n, _ := strconv.ParseUint(f, 10, 64)
		if _, ok := a.rel[n]; !ok {
			t.Errorf("frame %d: a TCP segment for tshark, not analysed here", n)
		}
	}
	if len(theirs) != len(a.rel) {
		t.Errorf("%d frames with a TCP segment for tshark, %d analysed here", len(theirs), len(a.rel))
	}
}
