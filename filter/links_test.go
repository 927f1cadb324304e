package filter

import (
	"encoding/binary"
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

// toSLL2 rewrites an Ethernet frame as a Linux cooked v2 frame.
func toSLL2(fr []byte) []byte {
	if len(fr) < 14 {
		return nil
	}
	h := []byte{fr[12], fr[13], 0, 0, 0, 0, 0, 2, 0, 1, 0, 6}
	h = append(append(h, fr[6:12]...), 0, 0)
	return append(h, fr[14:]...)
}

// toIPOnly strips the Ethernet header of an untagged frame of one IP
// version, for LINKTYPE_IPV4 and _IPV6.
func toIPOnly(hi, lo byte) func([]byte) []byte {
	return func(fr []byte) []byte {
		if len(fr) < 15 || fr[12] != hi || fr[13] != lo {
			return nil
		}
		return fr[14:]
	}
}

// toLoopback puts a BSD loopback header on an untagged IP frame: the
// address family little-endian (NULL as written on x86) or big-endian
// (LOOP); IPv6 as FreeBSD (28) and Darwin (30) number it, alternately.
func toLoopback(bigEndian bool) func([]byte) []byte {
	n := 0
	return func(fr []byte) []byte {
		raw := toRaw(fr)
		if raw == nil {
			return nil
		}
		af := uint32(2)
		if raw[0]>>4 == 6 {
			n++
			af = []uint32{28, 30, 24}[n%3]
		}
		h := binary.LittleEndian.AppendUint32(nil, af)
		if bigEndian {
			h = binary.BigEndian.AppendUint32(nil, af)
		}
		return append(h, raw...)
	}
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
		{"sll2", decode.LinkLinuxSLL2, 276, toSLL2},
		{"ipv4", decode.LinkIPv4, 228, toIPOnly(0x08, 0x00)},
		{"ipv6", decode.LinkIPv6, 229, toIPOnly(0x86, 0xdd)},
		{"null", decode.LinkNull, 0, toLoopback(false)},
		{"loop", decode.LinkLoop, 108, toLoopback(true)},
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
