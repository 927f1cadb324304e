package flowtable

import (
	"net/netip"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

func TestNewConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Shards: 3}, {Shards: 1 << 17}, {Capacity: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want error", cfg)
		}
	}
}

func TestDirectionAndClient(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(7, 7)
	if !c.last.Tracked || c.last.Dir != ClientToServer {
		t.Fatalf("ACK of handshake: %+v", c.last)
	}
	id := c.last.Flow
	c.s2c(seg{seq: 5001, ack: 1001, flags: thAck, win: 100, len: 10})
	if c.last.Dir != ServerToClient || c.last.Flow != id || c.last.NewFlow {
		t.Fatalf("server data: %+v", c.last)
	}
	r := c.flow()
	if r.Client != c.cli || r.Server != c.srv {
		t.Errorf("client %v server %v", r.Client, r.Server)
	}
	if r.Packets != [2]uint64{2, 2} || r.Payload != [2]uint64{0, 10} {
		t.Errorf("packets %v payload %v", r.Packets, r.Payload)
	}
	if r.State != StateEstablished {
		t.Errorf("state %v", r.State)
	}
	if r.SynToSynAck != time.Millisecond || r.SynAckToAck != time.Millisecond || r.IRTT != 2*time.Millisecond {
		t.Errorf("handshake times %v %v %v", r.SynToSynAck, r.SynAckToAck, r.IRTT)
	}
	if r.WindowScale != [2]int8{7, 7} || r.MSS != [2]uint16{1460, 1460} {
		t.Errorf("scale %v mss %v", r.WindowScale, r.MSS)
	}
}

func TestClientFromSynAck(t *testing.T) {
	c := newConv(t, Config{})
	c.s2c(seg{seq: 5000, ack: 1001, flags: thSyn | thAck, win: 100})
	r := c.flow()
	if r.Client != c.cli {
		t.Errorf("first packet SYN-ACK from %v: client %v, want its receiver", c.srv, r.Client)
	}
}

func TestClientMidStreamPortHeuristic(t *testing.T) {
	c := newConv(t, Config{})
	// The server (port 80) speaks first, mid-stream: the low port is the server.
	c.s2c(seg{seq: 5000, ack: 1001, flags: thAck, win: 100, len: 5})
	if r := c.flow(); r.Client != c.cli {
		t.Errorf("client %v, want %v", r.Client, c.cli)
	}
	// Between two high ports the higher (ephemeral) one is the client's,
	// whoever spoke first, as correlate names it (flowrule).
	c2 := newConv(t, Config{})
	c2.srv = netip.MustParseAddrPort("10.0.0.2:5000")
	c2.s2c(seg{seq: 5000, ack: 1001, flags: thAck, win: 100, len: 5})
	if r := c2.flow(); r.Client != c2.cli {
		t.Errorf("server port 5000 speaking first to 40000: client %v, want %v", r.Client, c2.cli)
	}
}

func TestUDPAndUntracked(t *testing.T) {
	tab, _ := New(Config{Capacity: 16})
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	p := decode.Packet{Layer: decode.LayerTransport, Proto: decode.ProtoUDP,
		SrcPort: 5353, DstPort: 53, PayloadLen: 30, IPLen: 78}
	p.SetAddrs(a, b)
	var res PacketResult
	tab.Update(&p, 1, 1, &res)
	if !res.Tracked || !res.NewFlow || res.Analyzed {
		t.Fatalf("udp: %+v", res)
	}
	p.SetAddrs(b, a)
	p.SrcPort, p.DstPort = 53, 5353
	tab.Update(&p, 2, 2, &res)
	if res.NewFlow || res.Dir != ServerToClient {
		t.Fatalf("udp reply: %+v", res)
	}
	icmp := decode.Packet{Layer: decode.LayerTransport, IPVersion: 4, Proto: decode.ProtoICMP}
	tab.Update(&icmp, 3, 3, &res)
	if res.Tracked {
		t.Fatal("icmp tracked")
	}
	st := tab.Stats()
	if st.Packets != 3 || st.Untracked != 1 || st.UDPFlows != 1 || st.Live != 1 {
		t.Errorf("stats %+v", st)
	}
	r, _ := tab.Flow(res.Flow)
	if r.Bytes != [2]uint64{78, 78} || r.Client.Port() != 5353 {
		t.Errorf("udp record %+v", r)
	}
}

func TestVLANSeparatesFlows(t *testing.T) {
	tab, _ := New(Config{Capacity: 16})
	c := tcpPacket(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), seg{flags: thSyn})
	var r1, r2 PacketResult
	tab.Update(&c, 1, 1, &r1)
	c.VLANCount, c.VLANs[0] = 1, 10
	tab.Update(&c, 2, 2, &r2)
	if !r2.NewFlow || r1.Flow == r2.Flow {
		t.Fatal("same flow on another VLAN")
	}
}

func TestIdleExpiryByPacketTime(t *testing.T) {
	c := newConv(t, Config{Shards: 1, Timeouts: Timeouts{HalfOpen: time.Second, Established: 10 * time.Second, Closing: time.Second, UDP: time.Second}})
	c.c2s(seg{seq: 1, flags: thSyn}) // half-open
	first := c.last.Flow
	c.cli = netip.MustParseAddrPort("10.0.0.3:1234")
	c.handshake(-1, -1) // established, on another key
	c.at(2 * time.Second).c2s(seg{seq: 1001, ack: 5001, flags: thAck, win: 10, len: 1})
	if len(c.expired) != 1 || c.expired[0].ID != first || c.expired[0].End != EndIdle {
		t.Fatalf("expired %+v", c.expired)
	}
	if _, ok := c.tab.Flow(first); ok {
		t.Error("expired flow still found")
	}
	c.tab.Flush()
	if len(c.expired) != 2 || c.expired[1].End != EndFlushed || c.tab.Stats().Live != 0 {
		t.Fatalf("after flush %+v", c.expired)
	}
}

func TestPortReuseStartsNewFlow(t *testing.T) {
	c := newConv(t, Config{})
	c.handshake(-1, -1)
	old := c.last.Flow
	c.at(time.Second).c2s(seg{seq: 90000, flags: thSyn, win: 100})
	if !c.last.NewFlow || c.last.Flow == old || !c.last.Events.Has(ReusedPorts) {
		t.Fatalf("new SYN: %+v", c.last)
	}
	if len(c.expired) != 1 || c.expired[0].End != EndPortReuse {
		t.Fatalf("expired %+v", c.expired)
	}
}

// A shard that gets no packets still expires its flows: other shards'
// updates sweep it as packet time advances.
func TestIdleShardIsSwept(t *testing.T) {
	var expired int
	tab, _ := New(Config{Shards: 8, Capacity: 8 * 64, Timeouts: Timeouts{HalfOpen: time.Second},
		OnExpire: func(*FlowRecord) { expired++ }})
	var res PacketResult
	p := tcpPacket(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:80"), seg{seq: 1, flags: thSyn})
	tab.Update(&p, 1, 1, &res)
	quiet := tab.ShardOf(&p)
	// Traffic on other shards only, one packet per 10 ms of packet time.
	now := int64(time.Second)
	for port, frame := uint16(2000), uint64(2); expired == 0 && now < int64(3*time.Second); port++ {
		q := tcpPacket(netip.MustParseAddrPort("10.0.0.3:1"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.4"), port), seg{seq: 1, flags: thSyn})
		if tab.ShardOf(&q) == quiet {
			continue
		}
		now += int64(10 * time.Millisecond)
		tab.Update(&q, now, frame, &res)
		frame++
	}
	if expired == 0 {
		t.Fatal("the quiet shard's half-open flow never expired")
	}
	if now > int64(2*time.Second) {
		t.Errorf("expired only at %v of packet time (timeout 1s)", time.Duration(now))
	}
}

// A SYN flood filling a shard with half-open flows switches it to the
// emergency timeouts: half-open flows then expire after EmergencyTimeouts.
// HalfOpen instead of waiting for eviction, and the mode ends when the
// shard empties.
func TestEmergencyMode(t *testing.T) {
	var ended []EndReason
	tab, _ := New(Config{Shards: 1, Capacity: 100,
		Timeouts:          Timeouts{HalfOpen: time.Minute},
		EmergencyTimeouts: Timeouts{HalfOpen: time.Second},
		OnExpire:          func(r *FlowRecord) { ended = append(ended, r.End) }})
	var out PacketResult
	syn := func(port uint16, now time.Duration) {
		p := tcpPacket(netip.AddrPortFrom(netip.MustParseAddr("10.9.9.9"), port), netip.MustParseAddrPort("10.0.0.2:80"), seg{seq: 1, flags: thSyn})
		tab.Update(&p, int64(now), 1, &out)
	}
	for i := 0; i < 100; i++ {
		syn(uint16(1000+i), time.Duration(i)*time.Millisecond)
	}
	if st := tab.Stats(); st.Emergency != 0 || st.Live != 100 {
		t.Fatalf("before overflow: %+v", st)
	}
	syn(2000, 200*time.Millisecond) // full: emergency, then one eviction
	if st := tab.Stats(); st.Emergency != 1 || st.EmergencyEntries != 1 || st.Evicted != 1 {
		t.Fatalf("at overflow: %+v", st)
	}
	// 2 s later (< the normal 60 s) the half-open flows expire.
	syn(2001, 2200*time.Millisecond)
	for i := 0; i < 20; i++ { // expiry is incremental: a few flows per packet
		syn(uint16(3000+i), 2300*time.Millisecond)
	}
	st := tab.Stats()
	if st.Expired < 90 {
		t.Errorf("only %d flows expired in emergency mode: %+v", st.Expired, st)
	}
	if st.Emergency != 0 {
		t.Errorf("still in emergency with %d live flows", st.Live)
	}
}

// A flow seen again within the LRU grain keeps its place in the list but
// not its old deadline: expiry re-queues it and ends the truly idle one.
func TestLazyLRUExpiry(t *testing.T) {
	var ended []uint16
	tab, _ := New(Config{Shards: 1, Capacity: 16, Timeouts: Timeouts{Established: 16 * time.Second},
		OnExpire: func(r *FlowRecord) { ended = append(ended, r.Client.Port()) }})
	var out PacketResult
	pkt := func(port uint16, at time.Duration) {
		p := tcpPacket(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), netip.MustParseAddrPort("10.0.0.2:80"), seg{seq: 1, ack: 1, flags: thAck, win: 1})
		tab.Update(&p, int64(at), 1, &out)
	}
	pkt(1001, 0)
	pkt(1002, 100*ms)
	pkt(1001, 500*ms) // within the 1 s grain: not moved
	pkt(1003, 16200*ms)
	if len(ended) != 1 || ended[0] != 1002 {
		t.Fatalf("at 16.2 s ended %v, want [1002]", ended)
	}
	pkt(1003, 16600*ms)
	if len(ended) != 2 || ended[1] != 1001 {
		t.Fatalf("at 16.6 s ended %v, want [1002 1001]", ended)
	}
}

// TestLateResetStaysInItsConnection: a server that answers a late
// segment with RST 90 s after the FIN exchange resets that connection, as
// tshark counts it (same stream); the RST must not expire the flow and
// start a new one with the server as its client.
func TestLateResetStaysInItsConnection(t *testing.T) {
	c := newConv(t, Config{})
	c.srv = netip.MustParseAddrPort("10.0.0.2:5201") // no well-known port to tell the server by
	c.handshake(-1, -1)
	c.at(time.Millisecond).c2s(seg{seq: 1001, ack: 5001, flags: thFin | thAck, win: 512})
	c.at(time.Millisecond).s2c(seg{seq: 5001, ack: 1002, flags: thFin | thAck, win: 512})
	c.at(time.Millisecond).c2s(seg{seq: 1002, ack: 5002, flags: thAck, win: 512})
	id := c.last.Flow
	c.at(90 * time.Second).s2c(seg{seq: 5002, flags: thRst, win: 0})
	if c.last.NewFlow || c.last.Flow != id || c.last.Dir != ServerToClient {
		t.Fatalf("late RST: new flow %v, flow %v (was %v), direction %v", c.last.NewFlow, c.last.Flow, id, c.last.Dir)
	}
	c.at(time.Millisecond).c2s(seg{seq: 1002, flags: thRst, win: 0})
	if r := c.flow(); r.ResetBy != SideBoth || r.Client != c.cli || r.FirstResetBy != SideServer || r.FirstResetFrame != c.frame-1 {
		t.Errorf("reset by %v (first %v in frame %d of %d), client %v; want the server's reset of %v's connection, then the client's",
			r.ResetBy, r.FirstResetBy, r.FirstResetFrame, c.frame, r.Client, c.cli)
	}
	if len(c.expired) != 0 {
		t.Errorf("flows ended: %+v", c.expired)
	}
}
