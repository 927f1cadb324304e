package capfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Merged reads several capture files as one stream in time order, as
// `mergecap -w` (its default, chronological merge) writes them: frame
// numbers count the merged stream, so a frame named in a report is the
// frame of that merged file. Its use is a capture split into rotated
// files (tcpdump -C/-G, dumpcap -b), where the merge is the files one
// after another; files that overlap in time are interleaved packet by
// packet.
type Merged struct {
	srcs   []mergeSrc
	files  []string
	frame  uint64
	last   int  // source of the packet returned last; -1 before the first
	primed bool // every source holds its first packet (or is done)
	err    error
	done   bool
	// runs are the stretches of the merged stream read from one file, in
	// order: Locate's map from a merged frame number to a file's own.
	// Rotated files make one run each; files that overlap in time add a
	// run each time the stream switches between them (and a file's
	// frame without a packet, a pcapng block Wireshark numbers, starts
	// one).
	runs   []mergeRun
	origin bool // RecordOrigins was called: keep runs
}

// mergeRun is a stretch of merged frames from one file: merged frame
// start is that file's frame fileFrame, and the frames after it follow
// one for one.
type mergeRun struct {
	start, fileFrame uint64
	file             int
}

type mergeSrc struct {
	r    *Reader
	name string
	p    Packet // its next packet, valid while ok
	ok   bool
}

// OpenMerged opens the capture files at paths (a directory stands for the
// capture files in it, sorted by name) to be read as one, in time order.
// A file that cannot be opened is an error, and nothing stays open.
func OpenMerged(paths ...string) (*Merged, error) {
	files, err := CaptureFiles(paths...)
	if err != nil {
		return nil, err
	}
	m := &Merged{files: files, last: -1}
	for _, f := range files {
		r, err := Open(f)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.srcs = append(m.srcs, mergeSrc{r: r, name: f})
	}
	return m, nil
}

// captureExts are the names CaptureFiles takes from a directory; a
// trailing .gz or .zst and the numbers rotation appends (file.pcap0,
// file.pcap.1) are allowed.
var captureExts = []string{".pcap", ".pcapng", ".cap", ".ntar"}

// CaptureFiles expands paths: a file stays itself, a directory becomes
// the capture files in it (by their names' extensions), sorted by name.
// A directory without capture files is an error.
func CaptureFiles(paths ...string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no capture file given")
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := len(out)
		for _, e := range ents {
			if e.Type().IsRegular() && isCaptureName(e.Name()) {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no capture files (%s) in the directory", p, strings.Join(captureExts, ", "))
		}
		slices.Sort(out[n:])
	}
	return out, nil
}

func isCaptureName(name string) bool {
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".zst")
	name = strings.TrimSuffix(strings.TrimRight(name, "0123456789"), ".")
	for _, ext := range captureExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Files lists the files being merged, in the order given.
func (m *Merged) Files() []string { return m.files }

// Next fills p with the earliest packet not yet read from any of the
// files (the first file's on a tie); p.Data stays valid until the next
// call. A file damaged part-way is read up to the damage and left out
// after it while the others go on; once every file is done, Next returns
// the damage (each file's, joined, with the file names) once, and io.EOF
// from then on.
func (m *Merged) Next(p *Packet) error {
	if m.done {
		return io.EOF
	}
	if !m.primed {
		for i := range m.srcs {
			m.advance(i)
		}
		m.primed = true
	} else if m.last >= 0 {
		m.advance(m.last) // its previous packet has been handed out
	}
	best := -1
	for i := range m.srcs {
		if s := &m.srcs[i]; s.ok && (best < 0 || s.p.Timestamp < m.srcs[best].p.Timestamp) {
			best = i
		}
	}
	m.last = best
	if best < 0 {
		m.done = true
		if m.err != nil {
			return m.err
		}
		return io.EOF
	}
	*p = m.srcs[best].p
	m.frame++
	if n := len(m.runs); m.origin && (n == 0 || m.runs[n-1].file != best || m.runs[n-1].fileFrame+(m.frame-m.runs[n-1].start) != p.Frame) {
		m.runs = append(m.runs, mergeRun{start: m.frame, fileFrame: p.Frame, file: best})
	}
	p.Frame = m.frame
	return nil
}

// RecordOrigins makes Merged remember, from the next packet on, which
// file each packet came from, for Locate. It costs nothing for rotated
// files (a record a file), but files that overlap in time add a record
// (24 bytes) each time the stream switches between them, up to one a
// packet; without it, Next never allocates.
func (m *Merged) RecordOrigins() { m.origin = true }

// Locate returns the file (an index into Files) and that file's own frame
// number (as Wireshark numbers the file alone) of merged frame frame, one
// Next has returned since RecordOrigins; ok is false for any other
// number.
func (m *Merged) Locate(frame uint64) (file int, fileFrame uint64, ok bool) {
	if len(m.runs) == 0 || frame < m.runs[0].start || frame > m.frame {
		return 0, 0, false
	}
	// The last run starting at or before frame.
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].start > frame }) - 1
	r := m.runs[i]
	return r.file, r.fileFrame + (frame - r.start), true
}

func (m *Merged) advance(i int) {
	s := &m.srcs[i]
	err := s.r.Next(&s.p)
	s.ok = err == nil
	if err != nil && err != io.EOF {
		m.err = errors.Join(m.err, fmt.Errorf("%s: %w", s.name, err))
	}
}

// Frames reports how many packets Next has returned.
func (m *Merged) Frames() uint64 { return m.frame }

// Close closes every file.
func (m *Merged) Close() error {
	var errs []error
	for _, s := range m.srcs {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(errs...)
}
