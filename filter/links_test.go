package filter

import (
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
)

// toSLL rewrites an Ethernet frame as a Linux cooked (SLL v1) frame.
func toSLL(fr []byte) []byte {
	if len(fr) < 14 {
		return nil
	}
	h := []byte{0, 0, 0, 1, 0, 6}
	h = append(h, fr[6:12]...)
	h = append(h, 0, 0, fr[12], fr[13])
	return append(h, fr[14:]...)
}

// toRaw strips the Ethernet header of an untagged IP frame.
func toRaw(fr []byte) []byte {
	if len(fr) < 15 || !(fr[12] == 0x08 && fr[13] == 0x00 || fr[12] == 0x86 && fr[13] == 0xdd) {
		return nil
	}
	return fr[14:]
}

// TestDifferentialOtherLinks compares with tcpdump on Linux SLL and raw IP
// links, over the crafted frames rewritten for those links and the shared
// captures of those link types. Expressions tcpdump refuses for a link
// must be refused by us too.
func TestDifferentialOtherLinks(t *testing.T) {
	for _, lt := range []struct {
		name    string
		link    decode.LinkType
		pcapDLT uint32
		conv    func([]byte) []byte
	}{
		{"sll", decode.LinkLinuxSLL, 113, toSLL},
		{"raw", decode.LinkRaw, 101, toRaw},
	} {
		t.Run(lt.name, func(t *testing.T) {
			empty := needTcpdump(t, lt.pcapDLT)
			var frames [][]byte
			for _, fr := range craftedSet() {
				if c := lt.conv(fr); c != nil {
					frames = append(frames, c)
				}
			}
			frames = append(frames, sharedFrames(t, lt.link)...)
			t.Logf("%d frames", len(frames))
			prefetchTcpdump(empty, diffExprs)
			for _, expr := range diffExprs {
				ref, refErr := tcpdumpProgram(empty, expr)
				mine, err := CompileOffline(expr, lt.link, 262144)
				if refErr != nil {
					if err == nil && !strings.Contains(refErr.Error(), "rejects all packets") {
						t.Errorf("%q: tcpdump refuses it (%v) but we compile it", expr, refErr)
					}
					continue
				}
				if err != nil {
					t.Errorf("%q: tcpdump compiles it, we say %v", expr, err)
					continue
				}
				refVM, err := bpf.NewVM(ref)
				if err != nil {
					t.Fatal(err)
				}
				myVM, err := bpf.NewVM(mine)
				if err != nil {
					t.Fatal(err)
				}
				bad := 0
				for i, fr := range frames {
					if w, g := run(t, refVM, fr), run(t, myVM, fr); w != g {
						bad++
						if bad <= 2 {
							t.Errorf("%q: frame %d (% x): tcpdump keeps %d, we keep %d", expr, i, fr[:min(len(fr), 48)], w, g)
						}
					}
				}
			}
		})
	}
}
