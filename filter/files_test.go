package filter

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/linktype"
)

var tcpdumpAll = flag.Bool("tcpdump-all", false, "TestMatcherFilesTcpdump: run every expression on every shared capture, not a sample")

// frameRec is one packet of a file as the comparison needs it.
type frameRec struct {
	frame uint64
	data  []byte
	wire  uint32
	link  linktype.Type
}

func readFrames(path string) ([]frameRec, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []frameRec
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, frameRec{p.Frame, bytes.Clone(p.Data), uint32(p.OrigLen), p.Link})
	}
}

// tcpdumpKeeps runs "tcpdump -r path -w - expr" and returns the packets it
// writes, or ok false when it refuses the expression (it then writes
// nothing, not even a file header). A read error after some packets still
// gives those packets, as the output is flushed.
func tcpdumpKeeps(path, expr string) (kept []frameRec, stderr string, ok bool) {
	cmd := exec.Command("tcpdump", "-r", path, "-w", "-", "--", expr)
	var eb bytes.Buffer
	cmd.Stderr = &eb
	out, _ := cmd.Output()
	if len(out) == 0 {
		return nil, strings.TrimSpace(eb.String()), false
	}
	r, err := capfile.NewReader(bytes.NewReader(out))
	if err != nil {
		return nil, "reading tcpdump's output: " + err.Error(), false
	}
	var p capfile.Packet
	for r.Next(&p) == nil {
		kept = append(kept, frameRec{p.Frame, bytes.Clone(p.Data), uint32(p.OrigLen), p.Link})
	}
	return kept, strings.TrimSpace(eb.String()), true
}

// TestMatcherFilesTcpdump reads every shared capture and, for the
// differential expression table, requires the Matcher to keep exactly
// the packets "tcpdump -r FILE -w - EXPR" writes, in order and byte for
// byte. Without -tcpdump-all each file gets a rotating sixth of the table
// (every expression still meets several files of each link type). An
// expression tcpdump refuses for a file's link type must be refused by
// NewMatcher. Files tcpdump cannot read to the end are compared on the
// packets it does read; files it reads none of (pcapng with interfaces of
// different link types or snap lengths, a section version it does not
// know) are skipped with its message.
func TestMatcherFilesTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed (apt-get install tcpdump); skipping the file differential test")
	}
	dir := sharedtest.Pcaps(t)
	type job struct {
		file   string
		frames []frameRec
		exprs  []string
	}
	var jobs []job
	links := map[linktype.Type]int{}
	for fi, e := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, e.File)
		frames, err := readFrames(path)
		if err != nil && len(frames) == 0 {
			t.Logf("%s: not read: %v", e.File, err)
			continue
		}
		all, msg, ok := tcpdumpKeeps(path, "")
		if !ok || len(all) == 0 {
			t.Logf("%s: skipped, tcpdump reads no packet of it: %s", e.File, msg)
			continue
		}
		if len(all) < len(frames) {
			frames = frames[:len(all)] // tcpdump stopped early; so do we
		}
		link := frames[0].link
		for _, f := range frames {
			if f.link != link {
				t.Fatalf("%s: tcpdump read frames of link types %v and %v", e.File, link, f.link)
			}
		}
		var exprs []string
		for i, x := range diffExprs {
			if *tcpdumpAll || (i+fi)%6 == 0 {
				exprs = append(exprs, x)
			}
		}
		links[link]++
		jobs = append(jobs, job{e.File, frames, exprs})
	}
	t.Logf("%d files, link types %v", len(jobs), links)

	type pair struct {
		j    int
		expr string
	}
	var pairs []pair
	for j, jb := range jobs {
		for _, x := range jb.exprs {
			pairs = append(pairs, pair{j, x})
		}
	}
	var mu sync.Mutex
	var compared, refused, unsupported int
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf(format, args...)
	}
	parallel(len(pairs), func(i int) {
		jb, expr := jobs[pairs[i].j], pairs[i].expr
		path := filepath.Join(dir, jb.file)
		link := jb.frames[0].link
		m, mErr := NewMatcher(expr, link, 0)
		if mErr != nil && strings.Contains(mErr.Error(), "is not supported") {
			mu.Lock()
			unsupported++
			mu.Unlock()
			return // the link type: reported once below
		}
		kept, msg, ok := tcpdumpKeeps(path, expr)
		if !ok && mErr == nil && strings.Contains(msg, "rejects all packets") {
			// libpcap refuses a program it proved false; ours must
			// then keep nothing.
			ok = true
		}
		if !ok {
			if mErr == nil {
				fail("%s %q: tcpdump refuses it (%s), NewMatcher accepts it", jb.file, expr, msg)
			}
			mu.Lock()
			refused++
			mu.Unlock()
			return
		}
		if mErr != nil {
			fail("%s %q: tcpdump accepts it, NewMatcher says %v", jb.file, expr, mErr)
			return
		}
		if d := compareKept(jb.frames, kept, m); d != "" {
			fail("%s %q: %s", jb.file, expr, d)
		}
		mu.Lock()
		compared++
		mu.Unlock()
	})
	t.Logf("%d file-expression pairs agree frame by frame, %d refused by both, %d on link types the compiler does not support", compared, refused, unsupported)
	if unsupported > 0 {
		for l, n := range links {
			if _, err := NewMatcher("", l, 0); err != nil {
				t.Logf("link type %v (%d files): not compared: %v", l, n, err)
			}
		}
	}
}

// compareKept runs m over frames and checks that the packets it keeps are
// those tcpdump kept, in order and byte for byte (an ordered subsequence
// of a file is its set of frames); it returns the first difference.
func compareKept(frames, kept []frameRec, m *Matcher) string {
	k := 0
	for _, f := range frames {
		if !m.Match(f.data, f.wire) {
			continue
		}
		if k >= len(kept) || !bytes.Equal(kept[k].data, f.data) || kept[k].wire != f.wire {
			return fmt.Sprintf("the matcher keeps frame %d, tcpdump's packet %d of its output differs or is missing: first difference at or before frame %d (% x)",
				f.frame, k+1, f.frame, f.data[:min(len(f.data), 48)])
		}
		k++
	}
	if k != len(kept) {
		return fmt.Sprintf("tcpdump keeps %d packets, the matcher %d", len(kept), k)
	}
	return ""
}
