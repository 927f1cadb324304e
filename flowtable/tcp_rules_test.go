package flowtable

import (
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

// Hand-built sequences, one per rule. ISNs: client 1000, server 5000 (see
// conv.handshake); after it the client's next seq is 1001, the server's 5001.

const ms = time.Millisecond

func TestRuleDataAndDupAcksFastRetransmission(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	for i := uint32(0); i < 4; i++ {
		only(t, "data", c.at(ms).s2c(seg{seq: 5001 + i*100, ack: 1001, flags: thAck, win: 1000, len: 100}))
	}
	// The client misses 5101: one ACK, then duplicates carrying SACK.
	only(t, "ack", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 512}))
	sack := []decode.SACKBlock{{Left: 5201, Right: 5401}}
	only(t, "dup 1", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 512, sack: sack}), DuplicateAck)
	only(t, "dup 2", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 512, sack: sack}), DuplicateAck)
	only(t, "fast", c.at(5*ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 100}), FastRetransmission)
	only(t, "ack all", c.c2s(seg{seq: 1001, ack: 5401, flags: thAck, win: 512}))
	// The same segment again, already acknowledged: spurious.
	only(t, "spurious", c.at(100*ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 100}), SpuriousRetransmission)
	r := c.flow()
	if r.SACKPackets != [2]uint32{2, 0} {
		t.Errorf("SACK packets %v", r.SACKPackets)
	}
	if r.FilterCount(Retransmission) != 2 || r.Events[DuplicateAck] != 2 || r.RetransBytes[ServerToClient] != 200 {
		t.Errorf("counts: retrans %d dup %d bytes %v", r.FilterCount(Retransmission), r.Events[DuplicateAck], r.RetransBytes)
	}
}

func TestRuleRetransmissionOutOfOrderLost(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1) // iRTT 2 ms
	only(t, "a", c.at(ms).s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 1000, len: 100}))
	only(t, "gap", c.s2c(seg{seq: 5201, ack: 1001, flags: thAck, win: 1000, len: 100}), LostSegment)
	// The missing segment 1 ms later (< iRTT): out of order.
	only(t, "ooo", c.at(ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 100}), OutOfOrder)
	// Again 300 ms later: a retransmission, whose delay is reported.
	c.records = nil
	only(t, "rto", c.at(300*ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 100}), Retransmission)
	if len(c.records) != 1 || c.records[0].Kind != Retransmission || c.records[0].Frame != c.frame || c.records[0].Seq != 101 || c.records[0].Delay < 300*ms {
		t.Errorf("event record %+v", c.records)
	}
	// The client ACKs data it never saw from the server.
	only(t, "ack unseen", c.c2s(seg{seq: 1001, ack: 9001, flags: thAck, win: 512}), AckLostSegment)
}

func TestRuleWindowScaleUnknownDisablesWindowFull(t *testing.T) {
	c := newConv(t, Config{})
	// Mid-stream: no handshake, the scale is unknown.
	c.c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 10})
	if c.last.Window != -1 {
		t.Errorf("window %d with unknown scale, want -1", c.last.Window)
	}
	// Data up to exactly ack + window: would be window_full with a known scale.
	only(t, "edge", c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 1000, len: 10}))

	k := newConv(t, Config{})
	k.handshake(2, 0) // client shift 2
	if k.last.Window != 512<<2 {
		t.Errorf("scaled window %d, want %d", k.last.Window, 512<<2)
	}
	// Client window 512<<2 = 2048 from ack 5001: data ending at 7049 fills it.
	only(t, "full", k.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 1000, len: 2048}), WindowFull)
}

func TestRuleWindowScaleOnlyOneSide(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(7, -1) // SYN offers scaling, SYN-ACK does not: not used
	if r := c.flow(); r.WindowScale != [2]int8{-2, -2} {
		t.Errorf("scales %v, want no scaling both ways", r.WindowScale)
	}
	if c.last.Window != 512 {
		t.Errorf("window %d, want raw 512", c.last.Window)
	}
}

func TestRuleZeroWindowAndProbe(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 1000, len: 100})
	only(t, "zero", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 0}), ZeroWindow, WindowShrink)
	only(t, "probe", c.at(200*ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 1}), ZeroWindowProbe)
	only(t, "probe ack", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 0}), ZeroWindow, ZeroWindowProbeAck)
	// The probe did not advance nextseq: the next probe is one again.
	only(t, "probe 2", c.at(400*ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 1000, len: 1}), ZeroWindowProbe)
	only(t, "open", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 800}), WindowUpdate)
}

func TestRuleKeepAlive(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 1000, len: 10})
	c.c2s(seg{seq: 1001, ack: 5011, flags: thAck, win: 512})
	// seq = nextseq-1 with 0 or 1 byte: keep-alive, never a retransmission.
	only(t, "ka0", c.at(time.Minute).s2c(seg{seq: 5010, ack: 1001, flags: thAck, win: 1000}), KeepAlive)
	only(t, "ka ack", c.c2s(seg{seq: 1001, ack: 5011, flags: thAck, win: 512}), KeepAliveAck)
	only(t, "ka1", c.at(time.Minute).s2c(seg{seq: 5010, ack: 1001, flags: thAck, win: 1000, len: 1}), KeepAlive)
	// Wireshark's quirk: 2+ bytes at nextseq-1 are new data, not a retransmission.
	only(t, "seglen>1", c.c2s(seg{seq: 1000, ack: 5011, flags: thAck, win: 512, len: 5}))
}

func TestRuleSeqWraparound(t *testing.T) {
	c := newConv(t, Config{})
	isn := uint32(0xffffff00)
	c.c2s(seg{seq: 1000, flags: thSyn, win: 60000})
	c.s2c(seg{seq: isn, ack: 1001, flags: thSyn | thAck, win: 100})
	c.c2s(seg{seq: 1001, ack: isn + 1, flags: thAck, win: 60000})
	next := isn + 1
	for i := 0; i < 4; i++ { // 4 x 100 bytes cross 2^32
		only(t, "data", c.at(ms).s2c(seg{seq: next, ack: 1001, flags: thAck, win: 100, len: 100}))
		next += 100
	}
	if c.last.RelSeq != 301 {
		t.Errorf("relative seq %d after wrap, want 301", c.last.RelSeq)
	}
	only(t, "ack", c.c2s(seg{seq: 1001, ack: next, flags: thAck, win: 60000}))
	only(t, "retrans across wrap", c.at(time.Second).s2c(seg{seq: next - 300, ack: 1001, flags: thAck, win: 100, len: 100}), SpuriousRetransmission)
	only(t, "gap after wrap", c.s2c(seg{seq: next + 50, ack: 1001, flags: thAck, win: 100, len: 10}), LostSegment)
}

func TestRuleSynRetransmissionAndHandshake(t *testing.T) {
	c := newConv(t, Config{})
	c.c2s(seg{seq: 1000, flags: thSyn, win: 100})
	c.records = nil
	ev := c.at(time.Second).c2s(seg{seq: 1000, flags: thSyn, win: 100})
	only(t, "syn again", ev, Retransmission, SynRetransmission)
	if len(c.records) != 2 || c.records[1].Kind != SynRetransmission || c.records[1].Delay != time.Second {
		t.Errorf("records %+v", c.records)
	}
	c.at(300 * ms).s2c(seg{seq: 5000, ack: 1001, flags: thSyn | thAck, win: 100})
	c.at(10 * ms).c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 100})
	r := c.flow()
	if r.SynRetransmissions != 1 || r.SynToSynAck != 1300*ms || r.SynAckToAck != 10*ms || r.IRTT != 310*ms {
		t.Errorf("syn retrans %d, syn->synack %v, synack->ack %v, irtt %v", r.SynRetransmissions, r.SynToSynAck, r.SynAckToAck, r.IRTT)
	}
	if r.State != StateEstablished || len(c.expired) != 0 {
		t.Errorf("state %v, expired %d", r.State, len(c.expired))
	}
}

func TestRuleSimultaneousOpen(t *testing.T) {
	c := newConv(t, Config{})
	c.c2s(seg{seq: 1000, flags: thSyn, win: 100})
	c.s2c(seg{seq: 5000, flags: thSyn, win: 100}) // crossing SYN: same flow
	if c.last.NewFlow || c.last.Events.Has(ReusedPorts) {
		t.Fatalf("crossing SYN: %+v", c.last)
	}
	c.s2c(seg{seq: 5000, ack: 1001, flags: thSyn | thAck, win: 100})
	c.c2s(seg{seq: 1000, ack: 5001, flags: thSyn | thAck, win: 100})
	c.c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 100, len: 10})
	r := c.flow()
	if r.Client != c.cli || r.State != StateEstablished || len(c.expired) != 0 {
		t.Errorf("client %v state %v expired %d", r.Client, r.State, len(c.expired))
	}
}

func TestRuleResetWithData(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	// A RST carrying a diagnostic text, past nextseq: no lost_segment for RST.
	only(t, "rst", c.s2c(seg{seq: 5101, ack: 1001, flags: thRst | thAck, win: 0, len: 20}), Reset)
	r := c.flow()
	if r.ResetBy != SideServer || r.State != StateReset || r.Payload[ServerToClient] != 20 {
		t.Errorf("reset by %v state %v payload %v", r.ResetBy, r.State, r.Payload)
	}
}

func TestRuleFinFirstAndClose(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.c2s(seg{seq: 1001, ack: 5001, flags: thFin | thAck, win: 100})
	if r := c.flow(); r.FinFirstBy != SideClient || r.State != StateFinWait {
		t.Errorf("fin by %v state %v", r.FinFirstBy, r.State)
	}
	c.s2c(seg{seq: 5001, ack: 1002, flags: thFin | thAck, win: 100})
	if r := c.flow(); r.FinFirstBy != SideClient || r.State != StateClosed {
		t.Errorf("fin by %v state %v", r.FinFirstBy, r.State)
	}
	// A FIN repeated is a retransmission (it carries a sequence number).
	only(t, "fin again", c.at(time.Second).c2s(seg{seq: 1001, ack: 5002, flags: thFin | thAck, win: 100}), Retransmission)
}

func TestRuleWindowShrink(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 100, len: 100})
	only(t, "big", c.c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 60000}))
	c.s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 100, len: 100})
	// Ack advances by 100, window drops 60000 -> 40000: right edge moves left.
	c.records = nil
	only(t, "edge left", c.c2s(seg{seq: 1001, ack: 5201, flags: thAck, win: 40000}), WindowShrink)
	if len(c.records) != 1 || c.records[0].OldWindow != 60000 || c.records[0].NewWindow != 40000 ||
		c.records[0].OldRightEdge != 101+60000 || c.records[0].NewRightEdge != 201+40000 {
		t.Errorf("shrink record %+v", c.records)
	}
	// Growing back is no shrink; then the window falls below half its maximum
	// while the right edge stays: a collapse.
	only(t, "grow", c.c2s(seg{seq: 1001, ack: 5201, flags: thAck, win: 50000}), WindowUpdate)
	c.s2c(seg{seq: 5201, ack: 1001, flags: thAck, win: 100, len: 30000})
	only(t, "collapse", c.c2s(seg{seq: 1001, ack: 35201, flags: thAck, win: 20000}), WindowShrink)
}

func TestRuleRTTSamples(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 100, len: 100})
	c.at(10 * ms).c2s(seg{seq: 1001, ack: 5101, flags: thAck, win: 100}) // 10 ms
	c.s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 100, len: 100})
	c.at(500 * ms).s2c(seg{seq: 5101, ack: 1001, flags: thAck, win: 100, len: 100}) // retransmitted
	c.at(20 * ms).c2s(seg{seq: 1001, ack: 5201, flags: thAck, win: 100})            // Karn: no sample
	// Timestamps: TSval 77 sent with data, echoed 30 ms later.
	c.s2c(seg{seq: 5201, ack: 1001, flags: thAck, win: 100, len: 100, hasTS: true, tsval: 77})
	c.at(30 * ms).c2s(seg{seq: 1001, ack: 5201, flags: thAck, win: 100, hasTS: true, tsval: 9, tsecr: 77})
	r := c.flow()
	if r.RTTSamples != 2 || r.RTTMin != 10*ms || r.RTTMax != 30*ms {
		t.Errorf("rtt samples %d min %v max %v", r.RTTSamples, r.RTTMin, r.RTTMax)
	}
	if r.RTTMedian < 10*ms || r.RTTMedian > 30*ms {
		t.Errorf("median %v", r.RTTMedian)
	}
}

func TestRuleFragmentNotAnalyzed(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	c.s2c(seg{seq: 9001, ack: 1001, flags: thAck, win: 100, len: 100, frag: true})
	if c.last.Analyzed || c.last.Events != 0 || c.flow().Packets[ServerToClient] != 2 {
		t.Errorf("fragment: %+v", c.last)
	}
}

func TestRTTHistogramMedian(t *testing.T) {
	var r rttStats
	for i := 1; i <= 1001; i++ {
		r.add(int64(i) * int64(time.Millisecond))
	}
	m := time.Duration(r.median())
	if m < 450*ms || m > 560*ms {
		t.Errorf("median of 1..1001 ms estimated %v", m)
	}
	if r.min != int64(ms) || r.max != int64(1001*ms) || r.n != 1001 {
		t.Errorf("min %d max %d n %d", r.min, r.max, r.n)
	}
}
