package ring

import (
	"testing"
	"time"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/track"
)

// TestSourceFeedsTrack: a live ring read through Source runs the same
// path as a file: 300 datagrams on three port pairs become three flows of
// 100 packets, frames are numbered from 1, and Stop ends the run cleanly.
func TestSourceFeedsTrack(t *testing.T) {
	p := ringtest.ForTest(t)
	c := openIn(t, p.NSB, Config{Interface: p.IfB, PollTimeout: 100 * time.Millisecond})
	var frames [][]byte
	for i := range 300 {
		frames = append(frames, ringtest.UDPFrame(p.MACA, p.MACB, -1, p.AddrA, p.AddrB, uint16(6000+i%3), 5003, make([]byte, 100)))
	}
	if err := ringtest.SendRaw(p.NSA, p.IfA, frames); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, c.Stop)
	ours := map[uint16]uint64{}
	tr, err := track.New(track.Options{Flows: &flowtable.Config{OnExpire: func(f *flowtable.FlowRecord) {
		if f.Server.Port() == 5003 {
			ours[f.Client.Port()] = f.Packets[0]
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	err = tr.Run(c.Source(0), func(pk *track.Packet) error {
		if pk.Capture.Frame != last+1 {
			t.Errorf("frame %d after %d", pk.Capture.Frame, last)
		}
		last = pk.Capture.Frame
		return nil
	})
	if err != nil {
		t.Fatalf("Run over a stopped ring: %v, want the clean end", err)
	}
	tr.Finish()
	if len(ours) != 3 || ours[6000] != 100 || ours[6001] != 100 || ours[6002] != 100 {
		t.Errorf("flows to port 5003: %v, want 100 packets from each of 6000, 6001, 6002", ours)
	}
}
