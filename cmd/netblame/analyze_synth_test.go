package main

import (
	"net/netip"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
)

// synthCapture builds small Ethernet/IPv4/TCP captures by hand, for views
// whose answers the shared captures cannot exercise (several connections of
// one client, resets in the middle of others, slow handshakes).
type synthCapture struct {
	base  int64
	pkts  []synthPacket
	order int
}

type synthPacket struct {
	ts    int64
	order int
	data  []byte
}

// synthConn is one TCP connection being scripted.
type synthConn struct {
	cap        *synthCapture
	c, s       netip.AddrPort
	cseq, sseq uint32 // next sequence number of each side
	cack, sack bool   // each side has seen the other's SYN
}

func newSynthCapture() *synthCapture { return &synthCapture{base: 1_700_000_000 * 1e9} }

func (sc *synthCapture) conn(client, server string, cisn, sisn uint32) *synthConn {
	return &synthConn{cap: sc, c: netip.MustParseAddrPort(client), s: netip.MustParseAddrPort(server), cseq: cisn, sseq: sisn}
}

// at converts seconds since the capture start to a timestamp.
func (sc *synthCapture) at(sec float64) int64 {
	return sc.base + int64(sec*float64(time.Second))
}

// send adds a segment from the client (fromClient) or the server at time
// sec, with flags and n payload bytes, advancing the sender's sequence.
func (c *synthConn) send(sec float64, fromClient bool, flags decode.TCPFlags, n int) {
	src, dst := c.c, c.s
	seq, ack := &c.cseq, c.sseq
	if !fromClient {
		src, dst = c.s, c.c
		seq, ack = &c.sseq, c.cseq
	}
	if flags&decode.TCPAck == 0 {
		ack = 0
	}
	c.cap.add(sec, tcpFrame(src, dst, *seq, ack, flags, 65535, n))
	adv := uint32(n)
	if flags&(decode.TCPSyn|decode.TCPFin) != 0 {
		adv++
	}
	*seq += adv
}

// handshake scripts SYN at t, SYN-ACK after rtt1 and ACK after rtt2 more.
func (c *synthConn) handshake(t, synAckAfter, ackAfter float64) {
	c.send(t, true, decode.TCPSyn, 0)
	c.send(t+synAckAfter, false, decode.TCPSyn|decode.TCPAck, 0)
	c.send(t+synAckAfter+ackAfter, true, decode.TCPAck, 0)
}

// exchange scripts a request and its response starting at t.
func (c *synthConn) exchange(t float64) {
	c.send(t, true, decode.TCPPsh|decode.TCPAck, 100)
	c.send(t+0.001, false, decode.TCPPsh|decode.TCPAck, 1000)
	c.send(t+0.002, true, decode.TCPAck, 0)
}

// close scripts FIN from the client at t, FIN from the server, last ACK.
func (c *synthConn) close(t float64) {
	c.send(t, true, decode.TCPFin|decode.TCPAck, 0)
	c.send(t+0.001, false, decode.TCPFin|decode.TCPAck, 0)
	c.send(t+0.002, true, decode.TCPAck, 0)
}

// reset scripts a RST (with ACK) from one side at t.
func (c *synthConn) reset(t float64, fromClient bool) {
	c.send(t, fromClient, decode.TCPRst|decode.TCPAck, 0)
}

func (sc *synthCapture) add(sec float64, data []byte) {
	sc.pkts = append(sc.pkts, synthPacket{ts: sc.at(sec), order: sc.order, data: data})
	sc.order++
}

// write stores the capture as a pcap file in dir, packets in time order.
func (sc *synthCapture) write(t *testing.T, name string) string {
	t.Helper()
	sort.SliceStable(sc.pkts, func(i, j int) bool { return sc.pkts[i].ts < sc.pkts[j].ts })
	path := filepath.Join(t.TempDir(), name)
	w, err := capfile.Create(path, decode.LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sc.pkts {
		if err := w.WritePacket(p.ts, p.data, len(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// tcpFrame builds an Ethernet/IPv4/TCP frame with n zero payload bytes and
// valid IPv4 and TCP checksums.
func tcpFrame(src, dst netip.AddrPort, seq, ack uint32, flags decode.TCPFlags, win uint16, n int) []byte {
	return pkttest.TCPFrame(src, dst, pkttest.TCP{Seq: seq, Ack: ack, Flags: uint16(flags), Win: win}, make([]byte, n))
}

// resetScenario is one client (10.0.0.1) with several connections to one
// server, and a second client, arranged so that each question has a known
// answer:
//
//	A :40001  0.0-1.0  reset by the client at 1.0
//	B :40002  0.5-2.7  handshake 400 ms; reset by the server at 2.7
//	C :40003  0.2-0.5  closed with FINs before A's reset
//	D :40004  1.5-2.5  handshake 350 ms; closed at 2.5 (before B's reset)
//	E :40005  2.6-3.0  in progress at B's reset
//	F 10.0.0.2:50000  0.1-3.0  another client: never counted
//
// At A's reset (1.0) the client's other connections in progress: B. At B's
// reset (2.7): E. Handshakes over 300 ms: B (first SYN 0.5) then D.
func resetScenario(t *testing.T) string {
	sc := newSynthCapture()
	srv := "10.0.0.9:80"
	a := sc.conn("10.0.0.1:40001", srv, 1000, 5000)
	a.handshake(0, 0.010, 0.001)
	a.exchange(0.1)
	a.reset(1.0, true)

	b := sc.conn("10.0.0.1:40002", srv, 2000, 6000)
	b.handshake(0.5, 0.400, 0.001)
	b.exchange(1.2)
	b.exchange(2.0)
	b.reset(2.7, false)

	c := sc.conn("10.0.0.1:40003", srv, 3000, 7000)
	c.handshake(0.2, 0.010, 0.001)
	c.exchange(0.3)
	c.close(0.5)

	d := sc.conn("10.0.0.1:40004", srv, 4000, 8000)
	d.handshake(1.5, 0.350, 0.001)
	d.exchange(2.0)
	d.close(2.497)

	e := sc.conn("10.0.0.1:40005", srv, 5000, 9000)
	e.handshake(2.6, 0.010, 0.001)
	e.exchange(2.8)
	e.close(2.997)

	f := sc.conn("10.0.0.2:50000", srv, 6000, 10000)
	f.handshake(0.1, 0.010, 0.001)
	f.exchange(1.0)
	f.close(2.997)
	return sc.write(t, "resets.pcap")
}
