// Package examples holds small programs that use netblame as a library;
// this test runs each on a sample capture that ships in the repository.
package examples

import (
	"os/exec"
	"strings"
	"testing"
)

func TestExamplesRun(t *testing.T) {
	const sample = "../samples/twopoint/loss-s2c/span.pcap"
	for _, c := range []struct{ dir, want string }{
		// tshark -Y tcp.analysis.retransmission finds 1 in this capture.
		{"./retransmissions", "10.201.1.2:40000 > 10.201.2.2:5201  packets 121  retransmissions 1  handshake "},
		// tshark -Y tcp.analysis.flags: frame 26 is the first.
		{"./events", "frame 26  10.201.2.2:5201 > 10.201.1.2:40000  lost_segment\n"},
	} {
		out, err := exec.Command("go", "run", c.dir, sample).CombinedOutput()
		if err != nil {
			t.Errorf("go run %s: %v\n%s", c.dir, err, out)
			continue
		}
		if !strings.HasPrefix(string(out), c.want) {
			t.Errorf("%s printed:\n%s\nwant it to begin with:\n%s", c.dir, out, c.want)
		}
	}
}
