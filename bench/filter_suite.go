package bench

import (
	"errors"
	"io"
	"os"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/filter"
)

// FilterExprs are the filter suite's capture filters, by case name.
var FilterExprs = []struct{ Case, Expr string }{
	{"port", "tcp port 443"},
	{"hosts-nets", "host 10.0.0.7 or net 192.168.1.0/30 or host fd00::5"},
	{"flags-len", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 10.0.0.0/8"},
	{"vlan", "vlan and tcp port 80"},
}

// FilterFile reads the capture at path and runs lm on every packet, as
// `netblame analyze -f EXPR` does before decoding; it returns the packets
// accepted.
func FilterFile(path string, lm *filter.LinkMatcher) (int, error) {
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
				return n, lm.Err()
			}
			return n, err
		}
		if lm.Match(p.Data, uint32(p.OrigLen), p.Link) {
			n++
		}
	}
}

func filterSuite() Suite {
	return Suite{
		Name: "filter",
		Doc:  "a capture filter over every packet of a file, keeping nothing (netblame capfile + filter.LinkMatcher vs tcpdump -r FILE EXPR -w /dev/null)",
		Cases: func(e *Env) ([]Case, error) {
			path, n, err := e.Generated(".pcap")
			if err != nil {
				return nil, err
			}
			files := []NamedFile{{Case: "", Path: path, Packets: n}}
			if e.File != "" {
				fn, err := CountPackets(e.File)
				if err != nil {
					return nil, err
				}
				files = append(files, NamedFile{Case: "file:", Path: e.File, Packets: fn})
			}
			var cases []Case
			for _, f := range files {
				for _, x := range FilterExprs {
					lm, err := filter.NewLinkMatcher(x.Expr, 262144)
					if err != nil {
						return nil, err
					}
					cases = append(cases, Case{Impl: "netblame", Case: f.Case + x.Case, Packets: f.Packets, Note: x.Expr,
						Run: func() error {
							_, err := FilterFile(f.Path, lm)
							return err
						}})
				}
			}
			for _, f := range files {
				for _, x := range FilterExprs {
					c := ProgramCase("tcpdump", f.Case+x.Case, f.Packets, "tcpdump", "-n", "-r", f.Path, "-w", os.DevNull, x.Expr)
					c.Note = x.Expr
					cases = append(cases, c)
				}
			}
			return cases, nil
		},
	}
}
