package flowtable

import (
	"os"
	"strconv"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

func TestDebugFile(t *testing.T) {
	path := os.Getenv("FT_DEBUG_FILE")
	if path == "" {
		t.Skip("FT_DEBUG_FILE not set")
	}
	lo, _ := strconv.Atoi(os.Getenv("FT_LO"))
	hi, _ := strconv.Atoi(os.Getenv("FT_HI"))
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := New(Config{Capacity: 4096, Seed: 1, Shards: 1, IgnoreVLAN: true})
	var cp capfile.Packet
	var p decode.Packet
	var out PacketResult
	for r.Next(&cp) == nil {
		p.Decode(cp.Data, cp.Link)
		tab.Update(&p, cp.Timestamp, cp.Frame, &out)
		if int(cp.Frame) >= lo && int(cp.Frame) <= hi && out.Tracked {
			s := tab.shards[0]
			_, sl, _ := out.Flow.parts()
			h := &s.hot[sl]
			t.Logf("flow %x new %v frame %d dir %v seq %d ack %d len %d ev %s | d0 %+v | d1 %+v irtt %d", out.Flow, out.NewFlow, cp.Frame, out.Dir, out.RelSeq, out.RelAck, out.Len, out.Events, h.dir[0], h.dir[1], s.cold[sl].firstRTT)
		}
	}
}
