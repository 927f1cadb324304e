// Command retransmissions prints each TCP connection of a capture with
// its retransmissions and handshake time: netblame used as a library.
//
//	go run ./examples/retransmissions samples/twopoint/loss-s2c/span.pcap
package main

import (
	"fmt"
	"os"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: retransmissions FILE")
		os.Exit(1)
	}
	flows, _, err := track.File(os.Args[1], nil)
	if err != nil {
		// A damaged file still gives the flows read before the damage.
		fmt.Fprintln(os.Stderr, "retransmissions:", err)
	}
	for _, f := range flows {
		if f.Proto != decode.ProtoTCP {
			continue
		}
		fmt.Printf("%v > %v  packets %d  retransmissions %d  handshake %v\n", f.Client, f.Server,
			f.Packets[0]+f.Packets[1], f.FilterCount(flowtable.Retransmission), f.SynToSynAck)
	}
	if err != nil {
		os.Exit(2)
	}
}
