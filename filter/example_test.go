package filter_test

import (
	"fmt"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/linktype"
	"golang.org/x/net/bpf"
)

// Compile a filter for frames read from a file and run it in x/net/bpf's
// VM; a live capture attaches the Compile output to its socket instead.
func ExampleCompileOffline() {
	prog, err := filter.CompileOffline("tcp dst port 80 and not src net 10.0.0.0/8", decode.LinkEthernet, 96)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		fmt.Println(err)
		return
	}
	// An Ethernet/IPv4/TCP SYN from 192.0.2.1:40000 to 198.51.100.2:80.
	frame := []byte{
		0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
		0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	}
	snap, _ := vm.Run(frame) // the snap length on accept (the kernel cuts to it), 0 on reject
	fmt.Println("accepted, snap length", snap)
	// Output: accepted, snap length 96
}

func ExampleSyntaxError() {
	_, err := filter.Compile("tcp port http", decode.LinkEthernet, 0)
	fmt.Println(err)
	// Output:
	// filter: "http" is not a port number (service names are not supported) at position 9
	//   tcp port http
	//            ^
}

// Filter the packets of a capture file as "tcpdump -r FILE EXPR" would:
// a Matcher for the file's link type, run on each frame's captured bytes
// and wire length, allocating nothing.
func ExampleNewMatcher() {
	m, err := filter.NewMatcher("tcp dst port 80 and not src net 10.0.0.0/8", linktype.Ethernet, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	// An Ethernet/IPv4/TCP SYN from 192.0.2.1:40000 to 198.51.100.2:80.
	frame := []byte{
		0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
		0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	}
	fmt.Println(m.Match(frame, uint32(len(frame))))
	frame[26] = 10 // now from 10.0.2.1
	fmt.Println(m.Match(frame, uint32(len(frame))))
	frame[26] = 192
	fmt.Println(m.Match(frame[:36], 54)) // captured up to the ports only: rejected, as in the kernel
	// Output:
	// true
	// false
	// false
}
