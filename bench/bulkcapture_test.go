package bench

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/internal/ringtest"
)

// TestMakeBulkCapture writes the real capture of docs/BENCHMARKS.md to the
// file NETBLAME_MAKE_CAPTURE names: 64 concurrent Linux TCP uploads of
// 12 MiB each between two network namespaces over a veth pair, taken by
// tcpdump on the receiving end at snaplen 128. It is a generator, run only
// on request (as root, with tcpdump), and checks that the file it wrote
// reads back whole.
func TestMakeBulkCapture(t *testing.T) {
	path := os.Getenv("NETBLAME_MAKE_CAPTURE")
	if path == "" {
		t.Skip("set NETBLAME_MAKE_CAPTURE=FILE to write the benchmark's bulk capture")
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("needs tcpdump")
	}
	p := ringtest.ForTest(t)
	td, err := ringtest.StartInNS(p.NSB, "listening on", tcpdump, "-i", p.IfB, "-s", "128", "-B", "262144", "-w", path, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 64, 12<<20); err != nil {
		td.Stop()
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the last ACKs and FINs
	report, err := td.Stop()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, report)
	}

	r, err := capfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var pkt capfile.Packet
	n := 0
	for err = r.Next(&pkt); err == nil; err = r.Next(&pkt) {
		n++
	}
	if !errors.Is(err, io.EOF) || n == 0 {
		t.Fatalf("%s: %d packets, then %v", path, n, err)
	}
	t.Logf("%s: %d packets; tcpdump said:\n%s", path, n, report)
}
