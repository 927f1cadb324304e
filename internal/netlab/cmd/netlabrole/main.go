// Command netlabrole is the lab's role program (server, client,
// impairer) built on its own: netlab runs it in place of a race-built test
// binary, whose instrumentation makes the user-space impairer and 20,000
// client goroutines several times slower than the traffic they carry.
// netlab's init runs the role named in NETLAB_ROLE and exits.
package main

import (
	"fmt"
	"os"

	_ "github.com/netblame/netblame/internal/netlab"
)

func main() {
	fmt.Fprintln(os.Stderr, "netlabrole: run by netlab with NETLAB_ROLE and NETLAB_CONFIG set; not a command for users")
	os.Exit(2)
}
