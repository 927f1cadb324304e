package correlate_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/decode"
)

// fromClient tells the generator's client packets (ephemeral port) apart.
func fromClient(p *decode.Packet) bool { return bench.FromClient(p) }

// snat makes the server side see IPv4 clients at another address and
// port, as source NAT between the points would.
func snat(b []byte, p *decode.Packet) { bench.SNAT(b, p) }

// TestSyntheticMiddleboxes runs correlation through what middleboxes
// between the points do to packets, on generated traffic where every
// connection is known to be in both captures: each must be matched, by the
// expected tier, and every packet removed downstream must be found.
func TestSyntheticMiddleboxes(t *testing.T) {
	const seqShift = 0x10000000
	cases := []struct {
		name    string
		opts    synthOpts
		how     string // matched_by expected of IPv4 connections
		natView bool   // IPv4 connections show a server-side view
	}{
		{"ip-id-rewritten", synthOpts{packets: 20000, lossPct: 2, rewrite: func(b []byte, p *decode.Packet) {
			if p.IPVersion == 4 {
				binary.BigEndian.PutUint16(b[p.NetOffset+4:], uint16(p.IPID*7919+13))
			}
		}}, "tuple", false},
		{"snat-with-handshake", synthOpts{packets: 20000, lossPct: 2, offset: 3e9, rewrite: snat}, "isn", true},
		{"snat-mid-stream", synthOpts{packets: 20000, offset: -2e9, rewrite: snat, noHandshake: true}, "first-data", true},
		{"snat-and-seq-rewrite", synthOpts{packets: 4000, concurrent: 4, noHandshake: true, rewrite: func(b []byte, p *decode.Packet) {
			if p.IPVersion != 4 {
				return
			}
			snat(b, p)
			if fromClient(p) {
				binary.BigEndian.PutUint32(b[p.TransOffset+4:], p.Seq+seqShift)
			} else {
				binary.BigEndian.PutUint32(b[p.TransOffset+8:], p.Ack+seqShift)
			}
		}}, "payload", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp := makeSynth(t, tc.opts)
			rep := correlate.Correlate(readCapture(t, "span", tp.span), readCapture(t, "server", tp.server), correlate.Options{})
			if len(rep.OnlyClientSide)+len(rep.OnlyServerSide) != 0 || len(rep.Flows) == 0 {
				t.Fatalf("%d connections matched; %d only at the client side, %d only at the server side",
					len(rep.Flows), len(rep.OnlyClientSide), len(rep.OnlyServerSide))
			}
			var missing [2]int
			for _, f := range rep.Flows {
				missing[0] += f.LostBetween.C2S + f.CaptureDropAt.ServerSide
				missing[1] += f.LostBetween.S2C + f.CaptureDropAt.ClientSide
				if f.Verdict == correlate.Inconclusive {
					t.Errorf("%s: inconclusive: %s", f.Client, f.Reason)
				}
				v4 := f.Client.Addr().Is4()
				if v4 && (f.MatchedBy != tc.how || (f.ServerSideView != nil) != tc.natView) {
					t.Errorf("%s: matched by %s with server-side view %v; want %s, view %v", f.Client, f.MatchedBy, f.ServerSideView, tc.how, tc.natView)
				}
			}
			if missing != tp.removed {
				t.Errorf("missing downstream c2s %d s2c %d, generator removed %d %d", missing[0], missing[1], tp.removed[0], tp.removed[1])
			}
			if d := math.Abs(rep.ClockOffset.Seconds() - float64(tc.opts.offset)/1e9); d > 1e-3 {
				t.Errorf("clock offset %.6f s, want %.6f", rep.ClockOffset.Seconds(), float64(tc.opts.offset)/1e9)
			}
		})
	}
}

// TestSyntheticDrift checks the drift estimate on a 20-second pair whose
// server clock runs 2 s ahead and gains 50 ppm.
func TestSyntheticDrift(t *testing.T) {
	tp := makeSynth(t, synthOpts{packets: 40000, concurrent: 64, timeScale: 400, offset: 2e9, driftPPM: 50})
	rep := correlate.Correlate(readCapture(t, "span", tp.span), readCapture(t, "server", tp.server), correlate.Options{})
	if math.Abs(rep.ClockDriftPPM-50) > 5 {
		t.Errorf("drift %.2f ppm (±%.2f), want 50", rep.ClockDriftPPM, rep.ClockDriftUncertaintyPPM)
	}
	if d := math.Abs(rep.ClockOffset.Seconds() - 2); d > 0.5e-3 {
		t.Errorf("clock offset %.6f s, want 2 s", rep.ClockOffset.Seconds())
	}
}
