package track_test

import (
	"fmt"
	"log"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

// Every TCP connection of a capture with its retransmissions, as
// Wireshark's tcp.analysis.retransmission counts them.
func ExampleFile() {
	flows, _, err := track.File("../samples/twopoint/loss-s2c/span.pcap", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range flows {
		if f.Proto != decode.ProtoTCP {
			continue
		}
		fmt.Printf("%v > %v: %d packets, %d retransmissions\n",
			f.Client, f.Server, f.Packets[0]+f.Packets[1], f.FilterCount(flowtable.Retransmission))
	}
	// Output:
	// 10.201.1.2:40000 > 10.201.2.2:5201: 121 packets, 1 retransmissions
}

// The first packets that carried an event (frames 26 to 33, as tshark's
// tcp.analysis.flags finds them), one by one, with a range loop over
// the tracker's iterator.
func ExampleTracker_All() {
	r, err := capfile.Open("../samples/twopoint/loss-s2c/span.pcap")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	t, err := track.New(track.Options{Flows: &flowtable.Config{}})
	if err != nil {
		log.Fatal(err)
	}
	shown := 0
	for p, err := range t.All(r) {
		if err != nil {
			log.Fatal(err) // a damaged file: the packets before it were seen
		}
		if p.Result.Events != 0 && shown < 5 {
			shown++
			fmt.Printf("frame %d %v:%d > %v:%d seq=%d len=%d %v\n", p.Capture.Frame,
				p.Decoded.Src(), p.Decoded.SrcPort, p.Decoded.Dst(), p.Decoded.DstPort,
				p.Result.RelSeq, p.Result.Len, p.Result.Events)
		}
	}
	t.Finish()
	// Output:
	// frame 26 10.201.2.2:5201 > 10.201.1.2:40000 seq=14481 len=1448 lost_segment
	// frame 27 10.201.1.2:40000 > 10.201.2.2:5201 seq=9 len=0 window_update
	// frame 29 10.201.1.2:40000 > 10.201.2.2:5201 seq=9 len=0 duplicate_ack
	// frame 31 10.201.1.2:40000 > 10.201.2.2:5201 seq=9 len=0 duplicate_ack
	// frame 33 10.201.1.2:40000 > 10.201.2.2:5201 seq=9 len=0 duplicate_ack
}
