package netlab

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var genSamples = flag.Bool("samples", false, "regenerate ../../samples/twopoint from SampleScenarios (needs root)")

// maxSampleFile bounds every shipped sample file.
const maxSampleFile = 150 << 10

// TestGenerateSamples regenerates the repository's small two-point pairs:
//
//	go test ./internal/netlab -run TestGenerateSamples -samples
func TestGenerateSamples(t *testing.T) {
	if !*genSamples {
		t.Skip("run with -samples to regenerate samples/twopoint")
	}
	needLab(t)
	root := filepath.Join("..", "..", "samples", "twopoint")
	for _, s := range SampleScenarios() {
		t.Run(s.Name, func(t *testing.T) {
			res := runScenario(t, t.TempDir(), s)
			dst := filepath.Join(root, s.Name)
			if err := os.RemoveAll(dst); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, src := range []string{res.SpanPcap, res.ServerPcap, res.TruthPath} {
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > maxSampleFile {
					t.Errorf("%s is %d bytes, over %d", filepath.Base(src), len(b), maxSampleFile)
				}
				if err := os.WriteFile(filepath.Join(dst, filepath.Base(src)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
