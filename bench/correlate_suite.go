package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/decode"
)

// CorrelatePairs are the correlate suite's sizes, packets per side.
var CorrelatePairs = []int{100_000, 1_000_000}

// BenchTwoPoint is the pair the correlate suite runs on: n packets,
// 2% loss each way between the points, the server clock 3 s ahead and
// gaining 20 ppm, and source NAT between the points.
func BenchTwoPoint(n int) TwoPointConfig {
	return TwoPointConfig{Packets: n, Offset: 3e9, DriftPPM: 20, LossPct: 2, Rewrite: SNAT}
}

// ReadTwoPointSide reads one side of a pair into a correlate.Capture.
func ReadTwoPointSide(name string, b []byte) (*correlate.Capture, error) {
	r, err := capfile.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := correlate.NewCapture(name)
	if err := c.ReadFrom(r); err != nil {
		return nil, err
	}
	return c, nil
}

// CorrelatePair reads both sides of tp and correlates them, the work of
// `netblame blame` before output.
func CorrelatePair(tp *TwoPoint) (*correlate.Report, error) {
	a, err := ReadTwoPointSide("client-side", tp.Span)
	if err != nil {
		return nil, err
	}
	s, err := ReadTwoPointSide("server-side", tp.Server)
	if err != nil {
		return nil, err
	}
	return correlate.Correlate(a, s, correlate.Options{}), nil
}

// CheckTwoPoint compares a report on tp with the generator's truth: every
// connection matched (through the NAT by ISN when there is one), every
// packet removed between the points found missing in its direction, the
// clock offset within 1 ms, the drift within 5 ppm when correlate
// estimates one, and the verdict
// network when packets were lost. It returns every disagreement.
func CheckTwoPoint(rep *correlate.Report, tp *TwoPoint) error {
	var errs []error
	if rep == nil {
		return errors.New("no report")
	}
	if len(rep.Flows) == 0 || len(rep.OnlyClientSide)+len(rep.OnlyServerSide) != 0 {
		errs = append(errs, fmt.Errorf("%d connections matched, %d seen only at the client side and %d only at the server side",
			len(rep.Flows), len(rep.OnlyClientSide), len(rep.OnlyServerSide)))
	}
	var missing [2]int
	badMatch := 0
	for _, f := range rep.Flows {
		missing[0] += f.LostBetween.C2S + f.CaptureDropAt.ServerSide
		missing[1] += f.LostBetween.S2C + f.CaptureDropAt.ClientSide
		if tp.Config.Rewrite != nil && f.Client.Addr().Is4() && (f.ServerSideView == nil || f.MatchedBy != "isn") {
			badMatch++
		}
	}
	if badMatch > 0 {
		errs = append(errs, fmt.Errorf("%d IPv4 connections not matched through the NAT by ISN", badMatch))
	}
	if missing != tp.Removed {
		errs = append(errs, fmt.Errorf("missing downstream c2s %d s2c %d, the generator removed %d and %d", missing[0], missing[1], tp.Removed[0], tp.Removed[1]))
	}
	if d := math.Abs(rep.ClockOffset.Seconds() - float64(tp.Config.Offset)/1e9); d > 1e-3 {
		errs = append(errs, fmt.Errorf("clock offset %.6f s, the generator's %.6f s", rep.ClockOffset.Seconds(), float64(tp.Config.Offset)/1e9))
	}
	// Over a pair of a second or two correlate makes no drift estimate
	// (0, without uncertainty): the drift then only has to stay inside
	// the offset's millisecond. When it makes one, it must be right.
	if rep.ClockDriftPPM != 0 || rep.ClockDriftUncertaintyPPM > 0 {
		if d := math.Abs(rep.ClockDriftPPM - tp.Config.DriftPPM); d > max(5, 3*rep.ClockDriftUncertaintyPPM) {
			errs = append(errs, fmt.Errorf("clock drift %.2f ppm, the generator's %.2f", rep.ClockDriftPPM, tp.Config.DriftPPM))
		}
	}
	want := correlate.None
	if tp.Removed[0]+tp.Removed[1] > 0 {
		want = correlate.Network
	}
	if rep.Verdict != want {
		errs = append(errs, fmt.Errorf("verdict %s, want %s", rep.Verdict, want))
	}
	return errors.Join(errs...)
}

func correlateSuite() Suite {
	return Suite{
		Name: "correlate",
		Doc:  "two generated captures of the same traffic (2% loss each way between the points, clock 3 s ahead drifting 20 ppm, source NAT), from pcap bytes in memory to the verdict, checked against the generator's truth; packets counts both sides",
		Cases: func(e *Env) ([]Case, error) {
			var cases []Case
			for _, n := range CorrelatePairs {
				cases = append(cases, correlateCases(n)...)
			}
			return cases, nil
		},
	}
}

func correlateCases(n int) []Case {
	label := fmt.Sprintf("%dk-per-side", n/1000)
	if n >= 1_000_000 {
		label = fmt.Sprintf("%dM-per-side", n/1_000_000)
	}
	var (
		tp   *TwoPoint
		last *correlate.Report
	)
	full := Case{
		Impl: "netblame", Case: label,
		Note: "read, flow and packet matching, clock, loss, verdict; bytes_per_packet is every byte allocated",
		Setup: func() (int, error) {
			var err error
			if tp, err = MakeTwoPoint(BenchTwoPoint(n)); err != nil {
				return 0, err
			}
			return tp.NSpan + tp.NServer, nil
		},
		Run: func() error {
			var err error
			last, err = CorrelatePair(tp)
			return err
		},
		Check: func() error { return CheckTwoPoint(last, tp) },
	}
	read := Case{
		Impl: "netblame-read-decode", Case: label,
		Note: "reference in the same run: reading and decoding both captures, nothing else",
		Setup: func() (int, error) {
			if tp == nil {
				return 0, errors.New("no pair")
			}
			return tp.NSpan + tp.NServer, nil
		},
		Run: func() error {
			var cp capfile.Packet
			var dp decode.Packet
			for _, f := range [][]byte{tp.Span, tp.Server} {
				r, err := capfile.NewReader(bytes.NewReader(f))
				if err != nil {
					return err
				}
				for {
					err := r.Next(&cp)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						return err
					}
					_ = dp.Decode(cp.Data, cp.Link)
				}
			}
			return nil
		},
		Close: func() { tp, last = nil, nil },
	}
	return []Case{full, read}
}
