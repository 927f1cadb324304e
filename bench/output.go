package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// MarshalJSON writes the schema's keys in a fixed order, every one
// present (null when unknown), with bytes_per_flow for the flow-table
// cases and bytes_per_packet for the others.
func (m Measurement) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	field := func(k string, v any) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			vb = []byte("null")
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	field("suite", m.Suite)
	field("impl", m.Impl)
	field("case", m.Case)
	field("packets", m.Packets)
	field("ns_per_packet", m.NsPerPacket)
	field("mpps", m.Mpps)
	field("allocs_per_packet", m.AllocsPerPacket)
	if m.BytesPerFlow != nil {
		field("bytes_per_flow", m.BytesPerFlow)
	} else {
		field("bytes_per_packet", m.BytesPerPacket)
	}
	field("drops", m.Drops)
	field("ratio_to_netblame", m.RatioToNetblame)
	field("runs", m.Runs)
	if len(m.RunsNs) > 0 {
		field("runs_ns_per_packet", m.RunsNs)
	}
	if m.RatePPS != nil {
		field("rate_pps", m.RatePPS)
	}
	if m.Skipped != "" {
		field("skipped", m.Skipped)
	}
	if m.Error != "" {
		field("error", m.Error)
	}
	if m.Note != "" {
		field("note", m.Note)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Header names the machine and the versions behind a run's figures.
type Header struct {
	Header bool              `json:"header"` // always true: tells the line apart
	Date   string            `json:"date"`
	CPU    string            `json:"cpu"`
	Cores  int               `json:"cores"`
	Kernel string            `json:"kernel,omitempty"`
	Go     string            `json:"go"`
	Quick  bool              `json:"quick"`
	Input  string            `json:"input,omitempty"`
	Peers  map[string]string `json:"peers"`
}

// MachineHeader describes this machine and the peers' versions; a peer
// that is not installed is "not installed", the library peers say
// whether they are linked.
func MachineHeader(quick bool, input string, libPeers bool) Header {
	h := Header{
		Header: true,
		Date:   time.Now().UTC().Format(time.RFC3339),
		CPU:    cpuModel(),
		Cores:  runtime.NumCPU(),
		Kernel: kernelRelease(),
		Go:     runtime.Version(),
		Quick:  quick,
		Input:  input,
		Peers:  map[string]string{},
	}
	h.Peers["tshark"] = toolVersion("tshark", "-v")
	h.Peers["tcpdump"] = toolVersion("tcpdump", "--version")
	h.Peers["tcptrace"] = toolVersion("tcptrace", "-v")
	g := moduleVersion("github.com/gopacket/gopacket")
	if !libPeers {
		g = "not linked into this binary (run netblame-bench)"
	}
	h.Peers["gopacket"] = g
	return h
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// toolVersion runs a peer's version flag and returns the first line that
// names a version.
func toolVersion(name string, args ...string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, args...).CombinedOutput()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(strings.ToLower(line), name) && strings.ContainsAny(line, "0123456789") {
			return line
		}
	}
	if len(out) == 0 {
		return "installed, version unknown"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}

// moduleVersion is the version of module path linked into this binary.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "linked"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "linked"
}

// Writer prints measurements as they come: text (the header as the first
// line, then an aligned table at the end) or JSON lines (a header object,
// then one object a measurement).
type Writer struct {
	json bool
	w    io.Writer
	rows []Measurement
}

// NewWriter returns a writer to w; asJSON picks JSON lines over text.
func NewWriter(w io.Writer, asJSON bool) *Writer { return &Writer{json: asJSON, w: w} }

// WriteHeader writes h, first.
func (w *Writer) WriteHeader(h Header) error {
	if w.json {
		return writeJSONLine(w.w, h)
	}
	peers := fmt.Sprintf("tshark: %s; tcpdump: %s; tcptrace: %s; gopacket: %s",
		h.Peers["tshark"], h.Peers["tcpdump"], h.Peers["tcptrace"], h.Peers["gopacket"])
	_, err := fmt.Fprintf(w.w, "# %s, %d cores, Linux %s, %s, %s; %s\n", h.CPU, h.Cores, h.Kernel, h.Go, h.Date, peers)
	return err
}

// Write writes the measurements of one suite (ratios already set).
func (w *Writer) Write(ms []Measurement) error {
	if w.json {
		for _, m := range ms {
			if err := writeJSONLine(w.w, m); err != nil {
				return err
			}
		}
		return nil
	}
	w.rows = append(w.rows, ms...)
	return nil
}

// Flush ends the output: in text, the table of every measurement.
func (w *Writer) Flush() error {
	if w.json {
		return nil
	}
	tw := tabwriter.NewWriter(w.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tIMPL\tCASE\tPACKETS\tNS/PKT\tMPPS\tALLOCS/PKT\tBYTES\tDROPS\tX NETBLAME\tNOTE")
	for _, m := range w.rows {
		note := m.Note
		switch {
		case m.Skipped != "":
			note = "skipped: " + m.Skipped
		case m.Error != "":
			note = "error: " + m.Error
		}
		bytesCol := "-"
		if m.BytesPerFlow != nil {
			bytesCol = fnum(m.BytesPerFlow) + "/flow"
		} else if m.BytesPerPacket != nil {
			bytesCol = fnum(m.BytesPerPacket) + "/pkt"
		}
		drops := "-"
		if m.Drops != nil {
			drops = strconv.FormatUint(*m.Drops, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Suite, m.Impl, m.Case, m.Packets,
			fnum(m.NsPerPacket), fnum(m.Mpps), fnum(m.AllocsPerPacket), bytesCol, drops, fnum(m.RatioToNetblame), note)
	}
	return tw.Flush()
}

func fnum(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
