package flowtable

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/fragtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// The rules script again, with most datagrams cut into fragments sent in
// any order, and now and then a fragment lost. tshark reassembles what it
// can and analyses each segment at the fragment that completes it;
// flowtable fed through defrag must agree frame by frame, on the events,
// the relative numbers and on which frames carry a TCP segment at all.
func TestTsharkLiveFragments(t *testing.T) {
	tsharktest.Need40(t)
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
			frames = fragtest.Fragment4(p.data, uint16(i+1), rng)
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
	checkAgainstTshark(t, path)

	theirs := tsharktest.MustFields(t, path, tsharktest.Query{Filter: "tcp", Fields: []string{"frame.number"}})
	a := analyzeCapture(t, path)
	for _, f := range theirs {
		n, _ := strconv.ParseUint(f[0], 10, 64)
		if _, ok := a.rel[n]; !ok {
			t.Errorf("frame %d: a TCP segment for tshark, not analysed here", n)
		}
	}
	if len(theirs) != len(a.rel) {
		t.Errorf("%d frames with a TCP segment for tshark, %d analysed here", len(theirs), len(a.rel))
	}
}
