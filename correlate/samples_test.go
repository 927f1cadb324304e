package correlate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/internal/fragtest"
	"github.com/netblame/netblame/samples"
)

// TestSamples correlates the two-point pairs shipped in package samples
// (made by the lab from real Linux TCP; they need no root) and checks them
// against their ground truth like TestNetlab does.
func TestSamples(t *testing.T) {
	names := samples.Names()
	if len(names) == 0 {
		t.Skip("package samples holds no pairs")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tr, openFile := samplePair(t, name)
			open := func(file string) *correlate.Capture {
				c, err := correlate.Read(file, openFile(file))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			rep := correlate.Correlate(open("span.pcap"), open("server.pcap"), correlate.Options{})
			for _, e := range checkTruth(t, rep, &tr, false) {
				t.Error(e)
			}
			if rep.Orientation != correlate.AsGiven {
				t.Errorf("orientation %s in the right order", rep.Orientation)
			}
			// Given the wrong way round, the pair says so and is judged
			// the right way round all the same.
			rev := correlate.Correlate(open("server.pcap"), open("span.pcap"), correlate.Options{})
			if rev.Orientation != correlate.Swapped || rev.ClientSide.File != "span.pcap" {
				t.Errorf("reversed pair: orientation %s, client side %s; want swapped, span.pcap", rev.Orientation, rev.ClientSide.File)
			}
			for _, e := range checkTruth(t, rev, &tr, false) {
				t.Error("reversed: " + e)
			}
			kept := correlate.Correlate(open("server.pcap"), open("span.pcap"), correlate.Options{NoOrient: true})
			if kept.Orientation != correlate.Reversed {
				t.Errorf("reversed pair with NoOrient: orientation %s, want reversed", kept.Orientation)
			}
		})
	}
}

// When the network between the two points fragments packets (a tunnel with
// a smaller MTU, say), the server side holds fragments; put back together,
// they correlate as the whole packets do: same verdicts, matches, losses,
// retransmissions and exchanges.
func TestFragmentedServerSide(t *testing.T) {
	fsys := samples.TwoPoint()
	for _, name := range samples.Names() {
		t.Run(name, func(t *testing.T) {
			read := func(file string, fragment bool) *correlate.Capture {
				f, err := fsys.Open(path.Join(name, file))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				r, err := capfile.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if !fragment {
					c := correlate.NewCapture(file)
					if err := c.ReadFrom(r); err != nil {
						t.Fatal(err)
					}
					return c
				}
				// Write the capture again, most datagrams in fragments.
				var buf bytes.Buffer
				w, err := capfile.NewWriter(&buf, capfile.FormatPCAP, r.LinkType(), 65535)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(5, 6))
				var cp capfile.Packet
				var id uint16
				for r.Next(&cp) == nil {
					id++
					for _, fr := range fragtest.Fragment4(cp.Data, id, rng) {
						if err := w.WritePacket(cp.Timestamp, fr, len(fr)); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				c, err := correlate.Read(file, &buf)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			span := read("span.pcap", false)
			whole := correlate.Correlate(span, read("server.pcap", false), correlate.Options{})
			span = read("span.pcap", false)
			cut := correlate.Correlate(span, read("server.pcap", true), correlate.Options{})
			if cut.ServerSide.Packets <= whole.ServerSide.Packets {
				t.Fatalf("the fragmented server side has %d packets, the whole one %d: nothing was cut", cut.ServerSide.Packets, whole.ServerSide.Packets)
			}
			if cut.Verdict != whole.Verdict || len(cut.Flows) != len(whole.Flows) {
				t.Fatalf("verdict %s with %d flows, whole packets give %s with %d", cut.Verdict, len(cut.Flows), whole.Verdict, len(whole.Flows))
			}
			for i, w := range whole.Flows {
				c := cut.Flows[i]
				type view struct {
					client, server         netip.AddrPort
					matchedBy              string
					verdict                correlate.Verdict
					matched, retrans, exch int
					lost                   correlate.DirCount
				}
				v := func(f correlate.FlowReport) view {
					return view{f.Client, f.Server, f.MatchedBy, f.Verdict, f.MatchedPackets, f.Retransmissions, f.Exchanges, f.LostBetween}
				}
				if v(c) != v(w) {
					t.Errorf("flow %d:\n fragmented %+v\n whole      %+v", i, v(c), v(w))
				}
			}
		})
	}
}

// timeCut passes on the packets of r whose timestamps lie in [from, to).
type timeCut struct {
	r        *capfile.Reader
	from, to int64
}

func (c *timeCut) Next(p *capfile.Packet) error {
	for {
		if err := c.r.Next(p); err != nil {
			return err
		}
		if p.Timestamp >= c.from && p.Timestamp < c.to {
			return nil
		}
	}
}

// TestPartialOverlap cuts one capture of each sample pair (started late,
// or stopped early, as a file cut short would be): what the other point
// saw while it was not running is neither lost nor a capture drop, and the
// verdict and the losses inside the common window stay the truth's.
func TestPartialOverlap(t *testing.T) {
	fsys := samples.TwoPoint()
	for _, name := range []string{"clean", "server-think"} {
		for _, cut := range []string{"server-stops-early", "span-starts-late"} {
			t.Run(name+"/"+cut, func(t *testing.T) {
				read := func(file string, keep func(first, last int64) (int64, int64)) *correlate.Capture {
					open := func() *capfile.Reader {
						f, err := fsys.Open(path.Join(name, file))
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { f.Close() })
						r, err := capfile.NewReader(f)
						if err != nil {
							t.Fatal(err)
						}
						return r
					}
					whole := correlate.NewCapture(file)
					if err := whole.ReadFrom(open()); err != nil {
						t.Fatal(err)
					}
					from, to := keep(whole.First, whole.Last)
					c := correlate.NewCapture(file)
					if err := c.ReadFrom(&timeCut{open(), from, to}); err != nil {
						t.Fatal(err)
					}
					return c
				}
				all := func(first, last int64) (int64, int64) { return first, last + 1 }
				early := func(first, last int64) (int64, int64) { return first, first + (last-first)/2 }
				late := func(first, last int64) (int64, int64) { return first + (last-first)*2/5, last + 1 }
				var span, server *correlate.Capture
				if cut == "server-stops-early" {
					span, server = read("span.pcap", all), read("server.pcap", early)
				} else {
					span, server = read("span.pcap", late), read("server.pcap", all)
				}
				rep := correlate.Correlate(span, server, correlate.Options{})
				want := correlate.None
				if name == "server-think" {
					want = correlate.Server
				}
				outside := 0
				for _, f := range rep.Flows {
					outside += f.OutsideCommonWindow
					if f.LostBetween.Total() != 0 || f.CaptureDrops != 0 {
						t.Errorf("%s: lost %+v, %d capture drops; want none", f.Client, f.LostBetween, f.CaptureDrops)
					}
				}
				if rep.Verdict != want {
					t.Errorf("verdict %s (%s), want %s", rep.Verdict, rep.Reason, want)
				}
				if outside == 0 {
					t.Error("no packet counted outside the common window")
				}
				if start, end := rep.CommonWindow.Start, rep.CommonWindow.End; end <= start {
					t.Errorf("common window %v to %v", start, end)
				}
			})
		}
	}
}

// TestRotatedFiles splits each sample pair's captures the way a rotating
// capture does (span.pcap into three files, server.pcap into two, a
// directory each) and correlates the directories: the report is the one
// of the whole files, frame numbers included, since the merge numbers
// frames as the whole file does.
func TestRotatedFiles(t *testing.T) {
	for _, name := range samples.Names() {
		t.Run(name, func(t *testing.T) {
			_, openFile := samplePair(t, name)
			whole := func(file string) *correlate.Capture {
				c, err := correlate.Read(file, openFile(file))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			want := correlate.Correlate(whole("span.pcap"), whole("server.pcap"), correlate.Options{})
			split := func(file string, parts int) string {
				dir := t.TempDir()
				r, err := capfile.NewReader(openFile(file))
				if err != nil {
					t.Fatal(err)
				}
				var all []capfile.Packet
				var p capfile.Packet
				for r.Next(&p) == nil {
					q := p
					q.Data = bytes.Clone(p.Data)
					all = append(all, q)
				}
				per := (len(all) + parts - 1) / parts
				for i := 0; i < parts; i++ {
					w, err := capfile.Create(filepath.Join(dir, fmt.Sprintf("%s%d", file, i)), r.LinkType(), 0)
					if err != nil {
						t.Fatal(err)
					}
					for _, q := range all[min(i*per, len(all)):min((i+1)*per, len(all))] {
						if err := w.WritePacket(q.Timestamp, q.Data, q.OrigLen); err != nil {
							t.Fatal(err)
						}
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				return dir
			}
			a, err := correlate.ReadFiles(split("span.pcap", 3))
			if err != nil {
				t.Fatal(err)
			}
			b, err := correlate.ReadFiles(split("server.pcap", 2))
			if err != nil {
				t.Fatal(err)
			}
			got := correlate.Correlate(a, b, correlate.Options{})
			if len(got.ClientSide.Files) != 3 || len(got.ServerSide.Files) != 2 {
				t.Errorf("files %v and %v; want 3 and 2", got.ClientSide.Files, got.ServerSide.Files)
			}
			for _, r := range []*correlate.Report{want, got} {
				r.ClientSide.File, r.ClientSide.Files, r.ServerSide.File, r.ServerSide.Files = "", nil, "", nil
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if !bytes.Equal(wj, gj) {
				t.Errorf("rotated files give another report:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

// TestVLANAtOnePoint: a SPAN port often delivers frames with their
// 802.1Q tag while the server's capture has none (or the other way
// round). Tagging every frame of one side must change nothing.
func TestVLANAtOnePoint(t *testing.T) {
	for _, name := range []string{"loss-s2c", "nat-clock-offset"} {
		for _, side := range []string{"span.pcap", "server.pcap"} {
			t.Run(name+"/"+side, func(t *testing.T) {
				_, openFile := samplePair(t, name)
				read := func(file string, tag bool) *correlate.Capture {
					if !tag {
						c, err := correlate.Read(file, openFile(file))
						if err != nil {
							t.Fatal(err)
						}
						return c
					}
					r, err := capfile.NewReader(openFile(file))
					if err != nil {
						t.Fatal(err)
					}
					var out bytes.Buffer
					w, err := capfile.NewWriter(&out, capfile.FormatPCAP, r.LinkType(), 0)
					if err != nil {
						t.Fatal(err)
					}
					var p capfile.Packet
					for r.Next(&p) == nil {
						// dst, src, then TPID 0x8100 and VLAN 100 before the EtherType.
						b := append(append(bytes.Clone(p.Data[:12]), 0x81, 0x00, 0x00, 100), p.Data[12:]...)
						if err := w.WritePacket(p.Timestamp, b, p.OrigLen+4); err != nil {
							t.Fatal(err)
						}
					}
					w.Close()
					c, err := correlate.Read(file, &out)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				want := correlate.Correlate(read("span.pcap", false), read("server.pcap", false), correlate.Options{})
				got := correlate.Correlate(read("span.pcap", side == "span.pcap"), read("server.pcap", side == "server.pcap"), correlate.Options{})
				wj, _ := json.Marshal(want)
				gj, _ := json.Marshal(got)
				if !bytes.Equal(wj, gj) {
					t.Errorf("a VLAN tag at one point changes the report:\n got %s\nwant %s", gj, wj)
				}
			})
		}
	}
}
