// Package samples ships small two-point capture pairs with their ground
// truth, so that `netblame demo` and tests without root have real captures
// to correlate.
//
// Each pair is a directory <name>/ holding span.pcap (captured on a
// router's client-facing interface, like a SPAN port near the client),
// server.pcap (captured on the server itself, possibly on a shifted clock)
// and truth.json (what really happened: expected blame overall and per
// flow, every packet dropped between the points, NAT mappings, the clock
// offset and drift). They were made by internal/netlab from real Linux TCP
// in network namespaces; regenerate them (as root) with
//
//	go test ./internal/netlab -run TestGenerateSamples -samples
//
// This package only embeds the files; it does not parse them.
package samples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed twopoint
var files embed.FS

// TwoPoint returns the pairs as a file system whose top-level directories
// are the pair names: <name>/span.pcap, <name>/server.pcap, <name>/truth.json.
func TwoPoint() fs.FS {
	sub, err := fs.Sub(files, "twopoint")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// Names lists the pairs, sorted.
func Names() []string {
	ents, err := fs.ReadDir(files, "twopoint")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
