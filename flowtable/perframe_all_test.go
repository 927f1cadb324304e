package flowtable

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestTsharkPerFrameShared compares events frame by frame with tshark on
// every shared capture (the count test can hide errors that cancel out).
// It runs tshark once per file (minutes on a loaded machine), so it runs
// only when FLOWTABLE_TSHARK_ALL is set; NETBLAME_BENCH_PCAP adds a
// capture of one's own.
func TestTsharkPerFrameShared(t *testing.T) {
	if os.Getenv("FLOWTABLE_TSHARK_ALL") == "" {
		t.Skip("set FLOWTABLE_TSHARK_ALL=1 to compare every shared capture with tshark frame by frame")
	}
	tsharktest.Need40(t)
	var paths []string
	if p := os.Getenv("NETBLAME_BENCH_PCAP"); p != "" {
		paths = append(paths, p) // the benchmark's capture too
	}
	dir := sharedtest.Pcaps(t)
	for _, row := range readCounts(t, dir) {
		paths = append(paths, filepath.Join(dir, row.file))
	}
	frames := 0
	for _, path := range paths {
		frames += len(checkAgainstTshark(t, path))
	}
	t.Logf("%d frames with tshark events compared", frames)
}
