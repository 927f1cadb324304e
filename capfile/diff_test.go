package capfile

import (
	"bytes"
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
	dir, files := readManifest(t)
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
	cmd := exec.Command("tshark", "-n", "-r", path, "-T", "fields",
		"-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 && !strings.Contains(stderr.String(), "corrupt") {
		t.Logf("tshark: %v: %s", err, stderr.String())
	}
	var frames []tsharkFrame
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("tshark line %q", line)
		}
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
	dir, files := readManifest(t)
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
