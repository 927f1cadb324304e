// Command events prints every TCP analysis event of a capture as it
// happens, with its frame number, reading through track's iterator.
//
//	go run ./examples/events samples/twopoint/loss-s2c/span.pcap
package main

import (
	"fmt"
	"os"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: events FILE")
		os.Exit(1)
	}
	r, err := capfile.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	defer r.Close()
	t, err := track.New(track.Options{Flows: &flowtable.Config{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	for p, err := range t.All(r) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "events:", err) // the packets before it were seen
			break
		}
		for _, e := range p.Events {
			fmt.Printf("frame %d  %v:%d > %v:%d  %v\n", e.Frame,
				p.Decoded.Src(), p.Decoded.SrcPort, p.Decoded.Dst(), p.Decoded.DstPort, e.Kind)
		}
	}
	t.Finish()
}
