package report_test

import (
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/report"
	"github.com/netblame/netblame/samples"
	"github.com/netblame/netblame/track"
)

// sampleBytes reads a file of a shipped two-point pair.
func sampleBytes(t testing.TB, pair, file string) []byte {
	t.Helper()
	b, err := fs.ReadFile(samples.TwoPoint(), pair+"/"+file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collect runs one pass over a capture's bytes into a collector, as
// netblame report does; cap, when not nil, is fed the same packets.
func collect(t testing.TB, data []byte, opt report.Options, cap *correlate.Capture) (*report.Collector, []flowtable.FlowRecord) {
	t.Helper()
	r, err := capfile.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := report.NewCollector(opt)
	var recs []flowtable.FlowRecord
	cfg := flowtable.Config{Capacity: 4096, Seed: 1, IgnoreVLAN: true,
		OnExpire: func(r *flowtable.FlowRecord) { recs = append(recs, *r) }}
	c.Hook(&cfg)
	tr, err := track.New(track.Options{Flows: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(r, func(p *track.Packet) error {
		c.Packet(p)
		if cap != nil {
			cap.Add(p.Capture.Frame, p.Capture.Timestamp, p.Decoded, p.Payload())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.Table().Flush()
	return c, recs
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// passPackets runs the analysis pass over data, with a collector when on
// (left in *c), and returns the packets read.
func passPackets(t testing.TB, data []byte, on bool, c **report.Collector) int {
	r, err := capfile.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := flowtable.Config{Capacity: 1 << 16, Seed: 1, IgnoreVLAN: true}
	if on {
		*c = report.NewCollector(report.Options{})
		(*c).Hook(&cfg)
	}
	tr, err := track.New(track.Options{Flows: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = tr.Run(r, func(p *track.Packet) error {
		n++
		if on {
			(*c).Packet(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.Table().Flush()
	return n
}
