package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// gopacketSource opens path with gopacket's pcapgo reader of the right kind.
func gopacketSource(path string) (gopacket.PacketDataSource, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) >= 4 && isPcapngMagic(b) {
		return pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	}
	return pcapgo.NewReader(bytes.NewReader(b))
}

// TestGopacketDifferential compares every packet of every shared capture
// with what gopacket's pcapgo reader returns: the same packets in the same
// order with the same timestamp, lengths and bytes. Where gopacket stops
// early with an error, only the packets it read are compared.
func TestGopacketDifferential(t *testing.T) {
	dir, files := sharedtest.Pcaps(t), sharedtest.Manifest(t)
	for _, e := range files {
		t.Run(e.File, func(t *testing.T) {
			path := filepath.Join(dir, e.File)
			src, err := gopacketSource(path)
			if err != nil {
				t.Skipf("gopacket cannot open it: %v", err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var p Packet
			n := 0
			for {
				data, ci, gerr := src.ReadPacketData()
				err := r.Next(&p)
				if gerr != nil {
					if gerr == io.EOF && err != io.EOF {
						t.Errorf("gopacket ended after %d packets, capfile returned another packet or %v", n, err)
					} else if gerr != io.EOF {
						t.Logf("gopacket stopped after %d packets: %v (capfile: %v)", n, gerr, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("packet %d: capfile: %v, gopacket read one", n+1, err)
				}
				n++
				want := ci.Timestamp.UnixNano()
				if ci.Timestamp.IsZero() {
					want = 0 // simple packet blocks carry no time
				}
				if got := p.Timestamp; got != want {
					t.Errorf("frame %d: timestamp %d, gopacket %d", p.Frame, got, want)
				}
				if p.OrigLen != ci.Length || len(p.Data) != ci.CaptureLength {
					t.Errorf("frame %d: len %d caplen %d, gopacket %d %d", p.Frame, p.OrigLen, len(p.Data), ci.Length, ci.CaptureLength)
				}
				if ci.InterfaceIndex != p.Interface {
					t.Errorf("frame %d: interface %d, gopacket %d", p.Frame, p.Interface, ci.InterfaceIndex)
				}
				if !bytes.Equal(p.Data, data) {
					t.Errorf("frame %d: data differs from gopacket's", p.Frame)
				}
			}
			if n == 0 && e.Packets > 0 {
				t.Logf("gopacket read no packet to compare")
			}
		})
	}
}

// tsharkFrame is one line of tshark -T fields output.
type tsharkFrame struct {
	number  uint64
	epochNs int64
	hasTime bool
	len     int
	capLen  int
}

// parseEpoch turns tshark's "1340954905.298858000" into nanoseconds
// without going through float64.
func parseEpoch(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(sec, "-")
	v, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	frac = (frac + "000000000")[:9]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		return v*1e9 - f, nil
	}
	return v*1e9 + f, nil
}

func runTshark(t *testing.T, path string) []tsharkFrame {
	t.Helper()
	rows, err := tsharktest.Fields(path, tsharktest.Query{Fields: []string{"frame.number", "frame.time_epoch", "frame.len", "frame.cap_len"}})
	if err != nil {
		t.Log(err) // a file tshark cannot read at all: no frames
	}
	var frames []tsharkFrame
	for _, f := range rows {
		var tf tsharkFrame
		tf.number, _ = strconv.ParseUint(f[0], 10, 64)
		if f[1] != "" {
			ns, err := parseEpoch(f[1])
			if err != nil {
				t.Fatalf("tshark time %q: %v", f[1], err)
			}
			tf.epochNs, tf.hasTime = ns, true
		}
		tf.len, _ = strconv.Atoi(f[2])
		tf.capLen, _ = strconv.Atoi(f[3])
		frames = append(frames, tf)
	}
	return frames
}

// TestTsharkDifferential compares frame numbers, timestamps and lengths
// with tshark's for every shared capture (frames tshark lists that are
// not packets, such as pcapng custom blocks, must be the gaps in our
// numbering).
func TestTsharkDifferential(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed; skipping the tshark differential test")
	}
	if testing.Short() {
		t.Skip("-short: tshark differential runs tshark once per capture")
	}
	dir, files := sharedtest.Pcaps(t), sharedtest.Manifest(t)
	for _, e := range files {
		t.Run(e.File, func(t *testing.T) {
			t.Parallel() // tshark's start-up dominates; overlap it
			path := filepath.Join(dir, e.File)
			want := runTshark(t, path)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			byNum := map[uint64]tsharkFrame{}
			for _, f := range want {
				byNum[f.number] = f
			}
			var p Packet
			for {
				err := r.Next(&p)
				if err != nil {
					var fe *FormatError
					if err != io.EOF && !errors.As(err, &fe) {
						t.Fatal(err)
					}
					break
				}
				w, ok := byNum[p.Frame]
				if !ok {
					t.Fatalf("frame %d: tshark has no such frame", p.Frame)
				}
				delete(byNum, p.Frame)
				if w.len != p.OrigLen || w.capLen != len(p.Data) {
					t.Errorf("frame %d: len %d caplen %d, tshark %d %d", p.Frame, p.OrigLen, len(p.Data), w.len, w.capLen)
				}
				if w.hasTime && w.epochNs != p.Timestamp {
					t.Errorf("frame %d: time %d, tshark %d", p.Frame, p.Timestamp, w.epochNs)
				}
				if !w.hasTime && p.Timestamp != 0 {
					t.Errorf("frame %d: tshark shows no time, we have %d", p.Frame, p.Timestamp)
				}
			}
			if r.Frames() != uint64(len(want)) {
				t.Errorf("%d frames, tshark lists %d", r.Frames(), len(want))
			}
			// Frames tshark lists that we did not return must be ones we
			// skipped on purpose (they never carry a timestamp).
			for n, f := range byNum {
				if f.hasTime {
					t.Errorf("tshark frame %d (time %d, len %d) was not returned", n, f.epochNs, f.len)
				}
			}
		})
	}
}

// TestTsharkHandBuilt runs tshark over a hand-built pcapng with the
// interface timestamp options of TestPcapngTimestamps (powers of ten and
// two, offsets), several sections in both byte orders, simple and
// obsolete packet blocks and skipped blocks, and compares every frame.
// Binary resolutions finer than 2^-34 are left out: Wireshark 4.0
// overflows 64 bits converting them (we compute them exactly).
func TestTsharkHandBuilt(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed; skipping the tshark differential test")
	}
	if testing.Short() {
		t.Skip("-short: skipping tshark")
	}
	le, be := binary.LittleEndian, binary.BigEndian
	f := newNg(le)
	f.idb(1, 0, f.tsresol(0x80|10)).idb(1, 0, f.tsresol(0x80|30)).idb(1, 0, f.tsresol(12))
	f.idb(1, 0, f.tsresol(6), f.tsoffset(1_000_000)).idb(1, 0, f.tsresol(9), f.tsoffset(-10)).idb(1, 0, f.tsresol(3))
	pkt := make([]byte, 60)
	f.epb(0, 1_600_000_000<<10|512, pkt, 60)
	f.epb(1, 1_600_000_000<<30|(1<<28)+12345, pkt, 60)
	f.block(4, make([]byte, 8))
	f.epb(2, 1_600_000_000_123_456_789, pkt[:20], 1500)
	f.epb(3, 1_500_000, pkt, 60, f.opt(1, []byte("comment")))
	f.block(5, make([]byte, 12))
	f.epb(4, 1_600_000_000_000_000_001, pkt, 60)
	f.pb(5, 1_600_000_000_123, pkt[:30], 30)
	f.shb(be, 1, 0).idb(1, 40, f.tsresol(9))
	f.spb(60, pkt[:40]) // data cut to the snaplen, as the format requires
	f.epb(0, 1_700_000_000_000_000_000, pkt, 61)
	path := filepath.Join(t.TempDir(), "hand.pcapng")
	if err := os.WriteFile(path, f.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := runTshark(t, path)
	got, err := readAll(mustReader(t, f.bytes()))
	if err != io.EOF || len(got) != len(want) || len(got) != 8 {
		t.Fatalf("we read %d packets (%v), tshark %d", len(got), err, len(want))
	}
	for i, w := range want {
		p := got[i]
		if p.Frame != w.number || p.OrigLen != w.len || len(p.Data) != w.capLen || (w.hasTime && p.Timestamp != w.epochNs) {
			t.Errorf("frame %d: ts %d len %d caplen %d; tshark frame %d: ts %d len %d caplen %d",
				p.Frame, p.Timestamp, p.OrigLen, len(p.Data), w.number, w.epochNs, w.len, w.capLen)
		}
	}
}
