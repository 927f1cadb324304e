package summary

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
)

// FuzzAppendLine decodes arbitrary bytes as a frame of an arbitrary link
// type, runs it through a flow table, and summarises it both with and
// without the table's result: nothing panics, the line ends with the
// Info, and the text is valid UTF-8 (the application layer's names and
// URIs are bytes from the packet: the fuzzer may find they are not). The seeds (one frame of each kind in
// infoCases) run in go test.
func FuzzAppendLine(f *testing.F) {
	for _, c := range infoCases {
		link := c.link
		if link == 0 {
			link = linktype.Ethernet
		}
		f.Add(c.frame, uint16(link))
	}
	for _, a := range appFrames() {
		f.Add(a.frame, uint16(linktype.Ethernet))
	}
	tab, err := flowtable.New(flowtable.Config{Capacity: 64, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	var (
		d     decode.Packet
		res   flowtable.PacketResult
		frame uint64
		line  []byte
		info  []byte
		app   App
	)
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		err := d.Decode(data, linktype.Type(link))
		frame++
		tab.Update(&d, int64(frame)*1e6, frame, &res)
		app.Parse(&d, payloadOf(&d, data))
		for _, r := range []*flowtable.PacketResult{nil, &res} {
			p := Packet{Frame: frame, Time: int64(frame) * 1e6, Len: len(data), Decoded: &d, Result: r, DecodeErr: err, App: &app}
			line = AppendLine(line[:0], &p)
			info = AppendInfo(info[:0], &p)
			if !bytes.HasSuffix(line, info) {
				t.Fatalf("line %q does not end with its Info %q", line, info)
			}
			if !utf8.Valid(line) {
				t.Fatalf("line %q is not UTF-8", line)
			}
			if Protocol(&d) == "" || ProtocolOf(&p) == "" {
				t.Fatal("empty Protocol")
			}
		}
	})
}
