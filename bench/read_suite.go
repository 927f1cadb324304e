package bench

import (
	"errors"
	"io"
	"os"

	"github.com/netblame/netblame/capfile"
)

// ReadInputs are the read suite's files: generated traffic as pcap,
// pcapng, gzip and zstd pcap, and the user's file as "file".
func (e *Env) ReadInputs() ([]NamedFile, error) {
	var out []NamedFile
	for _, f := range []struct{ name, ext string }{
		{"pcap", ".pcap"}, {"pcapng", ".pcapng"}, {"pcap.gz", ".pcap.gz"}, {"pcap.zst", ".pcap.zst"},
	} {
		path, n, err := e.Generated(f.ext)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedFile{Case: f.name, Path: path, Packets: n})
	}
	if e.File != "" {
		n, err := CountPackets(e.File)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedFile{Case: "file", Path: e.File, Packets: n})
	}
	return out, nil
}

// NamedFile is one input file of a suite.
type NamedFile struct {
	Case    string // the case name it gives its measurements
	Path    string
	Packets int
}

func readSuite() Suite {
	return Suite{
		Name:     "read",
		Doc:      "read every packet of a file from the page cache (netblame capfile vs gopacket pcapgo vs tcpdump -r FILE -w /dev/null)",
		LibPeers: []string{"gopacket-pcapgo"},
		Cases: func(e *Env) ([]Case, error) {
			files, err := e.ReadInputs()
			if err != nil {
				return nil, err
			}
			var cases []Case
			for _, f := range files {
				cases = append(cases, Case{Impl: "netblame", Case: f.Case, Packets: f.Packets, Run: func() error {
					_, err := CountPackets(f.Path)
					return err
				}})
			}
			for _, f := range files {
				c := ProgramCase("tcpdump", f.Case, f.Packets, "tcpdump", "-n", "-r", f.Path, "-w", os.DevNull)
				if c.Skip == "" && (f.Case == "pcap.gz" || f.Case == "pcap.zst") {
					c = Case{Impl: "tcpdump", Case: f.Case, Skip: "tcpdump -r does not read compressed captures"}
				}
				cases = append(cases, c)
			}
			return cases, nil
		},
	}
}

// CountPackets returns the number of packets in a capture file.
func CountPackets(path string) (int, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var p capfile.Packet
	n := 0
	for {
		if err := r.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
