package correlate_test

import (
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/decode"
)

// fuzzFrames splits fuzz input into Ethernet frames, each for the client
// side (0), the server side (1) or both (2), with a time step in ms that
// may go backwards: [which][step][len hi][len lo][frame].
func fuzzFrames(data []byte, fn func(which byte, step int8, frame []byte)) {
	for len(data) >= 4 {
		which, step, n := data[0]%3, int8(data[1]), int(data[2])<<8|int(data[3])
		data = data[4:]
		n = min(n, len(data))
		fn(which, step, data[:n])
		data = data[n:]
	}
}

// FuzzCorrelate feeds arbitrary frames to two captures and correlates
// them: whatever the input, Correlate must not panic and its report must
// be consistent.
func FuzzCorrelate(f *testing.F) {
	gen := bench.NewTraffic(bench.TrafficConfig{Seed: 3, Concurrent: 3, Responses: 6, LossPercent: 20, IPv6Percent: 30})
	buf := make([]byte, bench.MaxFrame)
	var seed []byte
	for i := range 60 {
		_, frame, _ := gen.Next(buf)
		which := byte(2)
		if i%11 == 5 {
			which = byte(i % 2) // missing from one side
		}
		seed = append(seed, which, 1, byte(len(frame)>>8), byte(len(frame)))
		seed = append(seed, frame...)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/3])
	f.Add([]byte{2, 0, 0, 3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := correlate.NewCapture("a"), correlate.NewCapture("b")
		var p decode.Packet
		var now int64
		fuzzFrames(data, func(which byte, step int8, frame []byte) {
			now += int64(step) * 1e6
			_ = p.Decode(frame, decode.LinkEthernet)
			var payload []byte
			if p.IsTCP() {
				payload = frame[p.PayloadOffset : p.PayloadOffset+p.CapPayloadLen]
			}
			if which != 1 {
				a.Add(uint64(a.Packets+1), now, &p, payload)
			}
			if which != 0 {
				b.Add(uint64(b.Packets+1), now+3e6, &p, payload)
			}
		})
		rep := correlate.Correlate(a, b, correlate.Options{})
		switch rep.Verdict {
		case correlate.Network, correlate.Server, correlate.Client, correlate.None, correlate.Inconclusive:
		default:
			t.Fatalf("verdict %q", rep.Verdict)
		}
		if rep.Reason == "" {
			t.Fatal("no reason")
		}
		for _, fr := range rep.Flows {
			if fr.MatchedPackets > min(fr.Packets.ClientSide, fr.Packets.ServerSide) ||
				fr.LostBetween.C2S < 0 || fr.LostBetween.S2C < 0 || fr.CaptureDrops > fr.Packets.ClientSide+fr.Packets.ServerSide {
				t.Fatalf("inconsistent flow %+v", fr)
			}
		}
	})
}
