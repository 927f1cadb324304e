package correlate_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"path"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/internal/netlab"
	"github.com/netblame/netblame/samples"
)

// samplePair reads the truth of sample pair name and returns it with a
// function that opens the pair's files (closed when t ends).
func samplePair(t *testing.T, name string) (netlab.Truth, func(file string) fs.File) {
	fsys := samples.TwoPoint()
	b, err := fs.ReadFile(fsys, path.Join(name, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr netlab.Truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr, func(file string) fs.File {
		f, err := fsys.Open(path.Join(name, file))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
}

// tsoFrames rewrites an Ethernet/IPv4 capture as a server with TCP
// segmentation offload captures it: each run of up to max adjacent
// segments that the stack would have handed the driver as one (same
// direction, consecutive seq and IPv4 ID, same ack and options) becomes one frame
// carrying all their payload. It returns the file and how many frames it
// merged away.
func tsoFrames(t *testing.T, src fs.File, max int) ([]byte, int) {
	r, err := capfile.NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	w, err := capfile.NewWriter(&out, capfile.FormatPCAP, r.LinkType(), 262144)
	if err != nil {
		t.Fatal(err)
	}
	type seg struct {
		ts             int64
		data           []byte
		src, dst       [6]byte // addresses and ports
		seq, ack, plen uint32
		opts           string // TCP options: TSO and GRO keep one timestamp
		id             uint16
		n              int
	}
	parse := func(ts int64, b []byte) (s seg, ok bool) {
		if len(b) < 54 || b[12] != 8 || b[13] != 0 || b[14] != 0x45 || b[23] != 6 {
			return s, false
		}
		ip := b[14:]
		tcp := ip[20:]
		hl := int(tcp[12]>>4) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:]))
		s = seg{ts: ts, data: append([]byte(nil), b...), seq: binary.BigEndian.Uint32(tcp[4:]), ack: binary.BigEndian.Uint32(tcp[8:]),
			plen: uint32(tot - 20 - hl), id: binary.BigEndian.Uint16(ip[4:]), n: 1, opts: string(tcp[20:hl])}
		copy(s.src[:4], ip[12:16])
		copy(s.src[4:], tcp[0:2])
		copy(s.dst[:4], ip[16:20])
		copy(s.dst[4:], tcp[2:4])
		return s, s.plen > 0 && tcp[13]&0x07 == 0 && len(b) == 14+tot
	}
	var run *seg
	merged := 0
	flush := func() {
		if run != nil {
			if err := w.WritePacket(run.ts, run.data, len(run.data)); err != nil {
				t.Fatal(err)
			}
			run = nil
		}
	}
	var p capfile.Packet
	for r.Next(&p) == nil {
		s, ok := parse(p.Timestamp, p.Data)
		if ok && run != nil && run.n < max && s.src == run.src && s.dst == run.dst && s.ack == run.ack && s.opts == run.opts &&
			s.seq == run.seq+run.plen && s.id == run.id+uint16(run.n) {
			hl := int(s.data[14+20+12]>>4) * 4
			run.data = append(run.data, s.data[14+20+hl:]...)
			run.plen += s.plen
			run.n++
			binary.BigEndian.PutUint16(run.data[14+2:], uint16(len(run.data)-14))
			run.data[14+20+13] |= s.data[14+20+13] & 0x08 // PSH of the last
			merged++
			continue
		}
		flush()
		if ok {
			run = &s
			continue
		}
		if err := w.WritePacket(p.Timestamp, p.Data, p.OrigLen); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), merged
}

// TestOffloadedServerSide correlates each sample pair with its server
// side rewritten as a TSO/GRO host captures it (super-segments of up to 10
// wire segments, in both directions): the verdicts, the exact lost-between
// counts in wire segments and the absence of capture drops are the
// truth's, as with the wire-sized capture, and every wire segment not lost
// on its way from the server is matched.
func TestOffloadedServerSide(t *testing.T) {
	for _, name := range samples.Names() {
		t.Run(name, func(t *testing.T) {
			tr, open := samplePair(t, name)
			tr.Offload = nil // the rewrite changes it; checked below
			server, merged := tsoFrames(t, open("server.pcap"), 10)
			if merged == 0 {
				t.Fatal("nothing to merge in server.pcap")
			}
			a, err := correlate.Read("span.pcap", open("span.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			sb, err := correlate.Read("server.pcap", bytes.NewReader(server))
			if err != nil {
				t.Fatal(err)
			}
			rep := correlate.Correlate(a, sb, correlate.Options{})
			if !rep.ServerSide.Offload || rep.ServerSide.SuperSegments == 0 || rep.ClientSide.Offload {
				t.Errorf("offload: client side %v, server side %v with %d super-segments; want only the server side",
					rep.ClientSide.Offload, rep.ServerSide.Offload, rep.ServerSide.SuperSegments)
			}
			for _, e := range checkTruth(t, rep, &tr, false) {
				t.Error(e)
			}
			for _, f := range rep.Flows {
				// All but those lost on their way from the server.
				if want := f.Packets.ServerSide - f.LostBetween.S2C; f.MatchedPackets != want {
					t.Errorf("%s: %d of the server side's %d wire segments matched, want %d", f.Client, f.MatchedPackets, f.Packets.ServerSide, want)
				}
			}
			t.Logf("%d frames merged into super-segments", merged)
		})
	}
}

// doubled writes every frame of src twice, the copy 20 µs later, as a
// SPAN session mirroring both ingress and egress records it; it returns
// the file and how many IPv4 frames it doubled.
func doubled(t *testing.T, src fs.File) ([]byte, int) {
	r, err := capfile.NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	w, err := capfile.NewWriter(&out, capfile.FormatPCAP, r.LinkType(), 262144)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var p capfile.Packet
	for r.Next(&p) == nil {
		for _, ts := range []int64{p.Timestamp, p.Timestamp + 20e3} {
			if err := w.WritePacket(ts, p.Data, p.OrigLen); err != nil {
				t.Fatal(err)
			}
		}
		if len(p.Data) > 14 && p.Data[12] == 8 && p.Data[13] == 0 {
			n++
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), n
}

// TestDoubledSpan correlates each sample pair with its span capture
// doubled: the copies are counted as capture duplicates and left out, so
// the verdicts and losses stay the truth's (the evidence's span frame
// numbers are those of the doubled file, so only counts are compared).
func TestDoubledSpan(t *testing.T) {
	for _, name := range samples.Names() {
		t.Run(name, func(t *testing.T) {
			tr, open := samplePair(t, name)
			if tr.CaptureDuplicates["span"] > 0 {
				t.Skip("this pair's span capture is doubled already")
			}
			span, n := doubled(t, open("span.pcap"))
			a, err := correlate.Read("span.pcap", bytes.NewReader(span))
			if err != nil {
				t.Fatal(err)
			}
			sb, err := correlate.Read("server.pcap", open("server.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			rep := correlate.Correlate(a, sb, correlate.Options{})
			// RSTs are never taken for copies; these pairs have none.
			if rep.ClientSide.CaptureDuplicates != uint64(n) || rep.ServerSide.CaptureDuplicates != 0 {
				t.Errorf("capture duplicates %d at the client side, %d at the server side; want %d, 0",
					rep.ClientSide.CaptureDuplicates, rep.ServerSide.CaptureDuplicates, n)
			}
			// The total is checked above; per connection, checkTruth
			// compares the rest.
			byClient := map[string]int{}
			for _, f := range rep.Flows {
				byClient[f.Client.String()] = f.CaptureDuplicates.ClientSide
			}
			for i := range tr.Flows {
				tr.Flows[i].SpanDuplicates = byClient[tr.Flows[i].Client]
			}
			for _, e := range checkTruth(t, rep, &tr, false) {
				t.Error(e)
			}
			for _, f := range rep.Flows {
				if f.Handshake != nil && f.Handshake.SYNRetrans != 0 {
					t.Errorf("%s: %d SYN retransmissions invented by the copies", f.Client, f.Handshake.SYNRetrans)
				}
			}
		})
	}
}
