package live_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/netblame/netblame/live"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// Capture TCP on port 443 into a compressed pcapng file with live
// analysis until Ctrl-C, printing every TCP event. (Not run by go test:
// it needs an interface and CAP_NET_RAW.)
func ExampleOpen() {
	s, err := live.Open(live.Config{
		Ring:    ring.Config{Interface: "eth0", Workers: 2},
		Filter:  "tcp port 443",
		Write:   "https.pcapng.zst",
		Analyze: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := s.Run(ctx, live.Hooks{
		// Called from the workers at once: a real program locks around
		// shared output.
		Event: func(worker int, tp *track.Packet) {
			fmt.Println(tp.Capture.Frame, tp.Result.Events)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Printf("%d packets, %d dropped by the kernel, %d TCP flows\n",
		rep.Captured, rep.Ring.Total.Kernel.Drops, rep.Flows.TCPFlows)
}
