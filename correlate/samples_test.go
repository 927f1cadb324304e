package correlate_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"testing"

	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/internal/netlab"
	"github.com/netblame/netblame/samples"
)

// TestSamples correlates the two-point pairs shipped in package samples
// (made by the lab from real Linux TCP; they need no root) and checks them
// against their ground truth like TestNetlab does.
func TestSamples(t *testing.T) {
	fsys := samples.TwoPoint()
	names := samples.Names()
	if len(names) == 0 {
		t.Skip("package samples holds no pairs")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			b, err := fs.ReadFile(fsys, path.Join(name, "truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tr netlab.Truth
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			open := func(file string) *correlate.Capture {
				f, err := fsys.Open(path.Join(name, file))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				c, err := correlate.Read(file, f)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			rep := correlate.Correlate(open("span.pcap"), open("server.pcap"), correlate.Options{})
			for _, e := range checkTruth(rep, &tr) {
				t.Error(e)
			}
		})
	}
}
