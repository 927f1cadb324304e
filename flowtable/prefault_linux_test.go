package flowtable

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of b that are mapped in.
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+int(pageSize)-1)/int(pageSize))
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

func TestPopulateMapsPagesInWithoutChangingThem(t *testing.T) {
	const pages = 64
	b, err := unix.Mmap(-1, 0, pages*int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	// Two pages already mapped and written, one on the bytes touch adds 0 to.
	b[5*int(pageSize)+7] = 42
	b[9*int(pageSize)] = 9
	if n := resident(t, b); n != 2 {
		t.Fatalf("%d pages resident before, want 2", n)
	}
	// A range that starts and ends inside pages maps in the whole pages.
	if !populate(unsafe.Pointer(&b[100]), uintptr(len(b)-200)) {
		t.Skip("this kernel has no MADV_POPULATE_WRITE (Linux 5.14)")
	}
	if n := resident(t, b); n != pages {
		t.Fatalf("%d of %d pages resident after populate", n, pages)
	}
	for i, v := range b {
		if v != 0 && i != 5*int(pageSize)+7 && i != 9*int(pageSize) {
			t.Fatalf("byte %d is %d after populate, want 0", i, v)
		}
	}
	if b[5*int(pageSize)+7] != 42 || b[9*int(pageSize)] != 9 {
		t.Fatal("populate changed a written page")
	}
}

func TestShardsAskForTheirNextSlotsAhead(t *testing.T) {
	tb, err := New(Config{Capacity: 64 * 1024, Shards: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := tb.shards[0]
	if s.prefaulted != prefaultChunk {
		t.Fatalf("a new shard asked for %d slots, want %d", s.prefaulted, prefaultChunk)
	}
	for s.fresh < 3*prefaultChunk {
		s.takeFree()
		if s.prefaulted < s.fresh+prefaultChunk/2 {
			t.Fatalf("at %d used slots only %d were asked for", s.fresh, s.prefaulted)
		}
	}
	if s.prefaulted > s.fresh+prefaultChunk {
		t.Fatalf("at %d used slots %d were asked for: more than a chunk ahead", s.fresh, s.prefaulted)
	}
}

func TestTouchWritesEveryPageOfTheRange(t *testing.T) {
	if raceEnabled {
		t.Skip("-race builds do not touch (see populate)")
	}
	const pages = 16
	b, err := unix.Mmap(-1, 0, pages*int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	// From the middle of page 2 to the middle of page 11: pages 2 to 11.
	from, to := 2*int(pageSize)+1000, 11*int(pageSize)+1000
	touch(unsafe.Pointer(&b[from]), uintptr(to-from))
	if n := resident(t, b[:2*int(pageSize)]); n != 0 {
		t.Errorf("%d pages before the range mapped in", n)
	}
	if n := resident(t, b[2*int(pageSize):12*int(pageSize)]); n != 10 {
		t.Errorf("%d of the range's 10 pages mapped in", n)
	}
	if n := resident(t, b[12*int(pageSize):]); n != 0 {
		t.Errorf("%d pages after the range mapped in", n)
	}
}

func TestShardsAskForTheirIndexOnceAnEighthOfItsPagesHaveAFlow(t *testing.T) {
	tb, err := New(Config{Capacity: 65536, Shards: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := tb.shards[0]
	pages := uint32(uintptr(len(s.idx)) * unsafe.Sizeof(s.idx[0]) / pageSize)
	if s.idxPrefaultAt != pages/8 {
		t.Fatalf("index (%d pages) asked for at %d flows, want %d", pages, s.idxPrefaultAt, pages/8)
	}
	for s.fresh < pages/8-1 {
		s.takeFree()
	}
	if s.idxPrefaultAt == 0 {
		t.Fatalf("index asked for at %d flows, before %d", s.fresh, pages/8)
	}
	s.takeFree()
	if s.idxPrefaultAt != 0 {
		t.Fatalf("index not asked for at %d flows", s.fresh)
	}
}
