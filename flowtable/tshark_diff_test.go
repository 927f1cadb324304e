package flowtable

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/defrag"
	"github.com/netblame/netblame/internal/sharedtest"
)

// The differential test: every capture of ../shared/pcaps/TSHARK_COUNTS.tsv
// is read with capfile, decoded and fed to a table, and each event count
// must equal the count of frames Wireshark 4.0.17's display filter
// tcp.analysis.<event> matches. When tshark is installed, the events are
// also compared frame by frame, which shows where a rule differs.

// diffEvents are the TSV columns compared, as tcp.analysis.<name>.
var diffEvents = []Event{
	Retransmission, FastRetransmission, SpuriousRetransmission, OutOfOrder,
	DuplicateAck, ZeroWindow, ZeroWindowProbe, WindowFull, LostSegment,
	AckLostSegment, KeepAlive, WindowUpdate, ReusedPorts,
}

// knownMismatch lists cells ("file\tevent") that disagree for reasons not
// yet understood. The test fails if a listed cell starts to agree, so the
// list only shrinks.
var knownMismatch = map[string]string{}

// excluded lists cells that measure something flowtable deliberately does
// differently, with the reason. They are reported, not compared.
var excluded = map[string]string{
	"tcpdump/tcp_header_heapoverflow.pcap\ttcp_packets": "the capture ends inside the TCP header: tshark lists a partial TCP header, decode rejects the transport layer",
}

type countsRow struct {
	file  string
	cells map[string]string
}

func readCounts(tb testing.TB, dir string) []countsRow {
	f, err := os.Open(filepath.Join(dir, "TSHARK_COUNTS.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var head []string
	var rows []countsRow
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = fields
			continue
		}
		r := countsRow{file: fields[0], cells: map[string]string{}}
		for i := 1; i < len(fields) && i < len(head); i++ {
			r.cells[head[i]] = fields[i]
		}
		rows = append(rows, r)
	}
	return rows
}

// fileAnalysis is what the table found in one capture.
type fileAnalysis struct {
	frames     map[uint64]EventSet // frames with events
	rel        map[uint64][3]int64 // analysed frames: relative seq, relative ack, scaled window
	tcpPackets int                 // TCP packets analysed
	tcpFlows   uint64
	firstIRTT  int64 // iRTT of the first TCP flow that has one, ns
	stats      TableStats
}

func analyzeCapture(tb testing.TB, path string) fileAnalysis {
	tb.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	res := fileAnalysis{frames: map[uint64]EventSet{}, rel: map[uint64][3]int64{}}
	firstIndex := ^uint64(0)
	tab, err := New(Config{Capacity: 4096, Seed: 1, IgnoreVLAN: true, OnExpire: func(fr *FlowRecord) {
		if fr.Proto == decode.ProtoTCP && fr.IRTT != 0 && fr.Index < firstIndex {
			firstIndex, res.firstIRTT = fr.Index, int64(fr.IRTT)
		}
	}})
	if err != nil {
		tb.Fatal(err)
	}
	var cp capfile.Packet
	var p, whole decode.Packet
	var out PacketResult
	pieces := defrag.New(0, 0) // tshark reassembles IP
	for {
		err := r.Next(&cp)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				tb.Logf("%s: read stops: %v", filepath.Base(path), err)
			}
			break
		}
		_ = p.Decode(cp.Data, cp.Link) // partial decodes still key on what was found
		dp := pieces.Take(&p, cp.Data, cp.Timestamp, &whole)
		if dp == nil {
			continue // a piece of a datagram not yet whole
		}
		tab.Update(dp, cp.Timestamp, cp.Frame, &out)
		if out.Tracked && dp.Proto == decode.ProtoTCP {
			res.tcpPackets++
		}
		if out.Analyzed {
			res.rel[cp.Frame] = [3]int64{int64(out.RelSeq), int64(out.RelAck), out.Window}
		}
		if out.Events != 0 {
			res.frames[cp.Frame] = out.Events
		}
	}
	res.stats = tab.Stats()
	tab.Flush()
	res.tcpFlows = res.stats.TCPFlows
	return res
}

func (a *fileAnalysis) count(e Event) int {
	n := 0
	for _, s := range a.frames {
		if s.MatchesFilter(e) {
			n++
		}
	}
	return n
}

func TestTsharkCounts(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	rows := readCounts(t, dir)
	tshark, _ := exec.LookPath("tshark")
	equal, total := 0, 0
	var report strings.Builder
	fmt.Fprintf(&report, "%-55s %-24s %7s %7s\n", "file", "event", "tshark", "ours")
	for _, row := range rows {
		failedBefore := t.Failed()
		a := analyzeCapture(t, filepath.Join(dir, row.file))
		for _, e := range diffEvents {
			want, err := strconv.Atoi(row.cells[e.String()])
			if err != nil {
				t.Fatalf("%s: column %s: %v", row.file, e, err)
			}
			got := a.count(e)
			total++
			cell := row.file + "\t" + e.String()
			_, known := knownMismatch[cell]
			switch {
			case got == want && known:
				t.Errorf("%s %s now agrees (%d): remove it from knownMismatch", row.file, e, got)
			case got == want:
				equal++
			case known:
				fmt.Fprintf(&report, "%-55s %-24s %7d %7d (known: %s)\n", row.file, e, want, got, knownMismatch[cell])
			default:
				fmt.Fprintf(&report, "%-55s %-24s %7d %7d\n", row.file, e, want, got)
				t.Errorf("%s: %s: tshark %d, flowtable %d", row.file, e, want, got)
			}
		}
		// Beyond the events: TCP packets analysed, streams, first iRTT.
		extra := []struct {
			col string
			got string
		}{
			{"tcp_packets", strconv.Itoa(a.tcpPackets)},
			{"tcp_streams", strconv.FormatUint(a.tcpFlows, 10)},
		}
		if want := row.cells["first_stream_initial_rtt_s"]; want != "" {
			extra = append(extra, struct {
				col string
				got string
			}{"first_stream_initial_rtt_s", fmt.Sprintf("%.9f", float64(a.firstIRTT)/1e9)})
		}
		for _, x := range extra {
			want := row.cells[x.col]
			total++
			cell := row.file + "\t" + x.col
			_, known := knownMismatch[cell]
			if why, ok := excluded[cell]; ok {
				fmt.Fprintf(&report, "%-55s %-24s %7s %7s (excluded: %s)\n", row.file, x.col, want, x.got, why)
				total--
				continue
			}
			switch {
			case x.got == want && known:
				t.Errorf("%s %s now agrees (%s): remove it from knownMismatch", row.file, x.col, want)
			case x.got == want:
				equal++
			case known:
				fmt.Fprintf(&report, "%-55s %-24s %7s %7s (known: %s)\n", row.file, x.col, want, x.got, knownMismatch[cell])
			default:
				fmt.Fprintf(&report, "%-55s %-24s %7s %7s\n", row.file, x.col, want, x.got)
				t.Errorf("%s: %s: tshark %s, flowtable %s", row.file, x.col, want, x.got)
			}
		}
		if tshark != "" && t.Failed() && !failedBefore {
			perFrame(t, filepath.Join(dir, row.file), a)
		}
	}
	t.Logf("tshark agreement: %d/%d cells equal\n%s", equal, total, report.String())
}

// perFrame runs tshark on one file and logs the frames whose events differ.
func perFrame(t *testing.T, path string, a fileAnalysis) {
	diffs, _ := compareFrames(t, path, a)
	for _, d := range diffs {
		t.Log("  " + d)
	}
}
