package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMemoryLatency chases pointers through a random cyclic
// permutation of cache lines, on 1 to 32 independent chains at once: with
// one chain ns/miss is the machine's load-to-use latency for that working
// set (cache, DRAM and TLB misses together), with many it shows how many
// misses the processor keeps in flight. It bounds what a flow table whose
// state does not fit the caches can do per packet.
func BenchmarkMemoryLatency(b *testing.B) {
	for _, mb := range []int{1, 16, 128} {
		lines := mb << 20 / 64
		next := make([]uint64, lines*8) // one link a cache line
		perm := rand.New(rand.NewPCG(1, 2)).Perm(lines)
		for i, l := range perm {
			next[l*8] = uint64(perm[(i+1)%lines] * 8)
		}
		for _, chains := range []int{1, 4, 8, 16, 24, 32} {
			b.Run(fmt.Sprintf("MB=%d/chains=%d", mb, chains), func(b *testing.B) {
				var at [32]uint64
				for j := range chains {
					at[j] = uint64(perm[j*lines/chains] * 8)
				}
				steps := 0
				for b.Loop() {
					for j := range chains {
						at[j] = next[at[j]]
					}
					steps++
				}
				sink = at[0]
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps*chains), "ns/miss")
			})
		}
	}
}

var sink uint64
