package flowtable

import "testing"

func TestEventNames(t *testing.T) {
	for _, c := range []struct {
		e         Event
		name, tag string
		wireshark bool
	}{
		{Retransmission, "retransmission", "TCP Retransmission", true},
		{FastRetransmission, "fast_retransmission", "TCP Fast Retransmission", true},
		{SpuriousRetransmission, "spurious_retransmission", "TCP Spurious Retransmission", true},
		{OutOfOrder, "out_of_order", "TCP Out-Of-Order", true},
		{LostSegment, "lost_segment", "TCP Previous segment not captured", true},
		{AckLostSegment, "ack_lost_segment", "TCP ACKed unseen segment", true},
		{DuplicateAck, "duplicate_ack", "TCP Dup ACK", true},
		{ZeroWindow, "zero_window", "TCP ZeroWindow", true},
		{ZeroWindowProbe, "zero_window_probe", "TCP ZeroWindowProbe", true},
		{ZeroWindowProbeAck, "zero_window_probe_ack", "TCP ZeroWindowProbeAck", true},
		{WindowFull, "window_full", "TCP Window Full", true},
		{WindowUpdate, "window_update", "TCP Window Update", true},
		{KeepAlive, "keep_alive", "TCP Keep-Alive", true},
		{KeepAliveAck, "keep_alive_ack", "TCP Keep-Alive ACK", true},
		{ReusedPorts, "reused_ports", "TCP Port numbers reused", true},
		{WindowShrink, "window_shrink", "Window Shrink", false},
		{SynRetransmission, "syn_retransmission", "SYN Retransmission", false},
		{Reset, "reset", "", false},
		{NumEvents, "unknown", "", false},
	} {
		if got := c.e.String(); got != c.name {
			t.Errorf("Event(%d).String() = %q, want %q", c.e, got, c.name)
		}
		if got := c.e.InfoTag(); got != c.tag {
			t.Errorf("Event(%d).InfoTag() = %q, want %q", c.e, got, c.tag)
		}
		if c.e < NumEvents {
			if got := c.e.Wireshark(); got != c.wireshark {
				t.Errorf("Event(%d).Wireshark() = %v", c.e, got)
			}
			if e, ok := ParseEvent(c.name); !ok || e != c.e {
				t.Errorf("ParseEvent(%q) = %d, %v", c.name, e, ok)
			}
		}
	}
	if _, ok := ParseEvent("unknown"); ok {
		t.Error(`ParseEvent("unknown") succeeded`)
	}
}

func TestStateAndEnumNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{StateNone.String(), "none"},
		{StateSynSent.String(), "syn_sent"},
		{StateSynReceived.String(), "syn_received"},
		{StateEstablished.String(), "established"},
		{StateFinWait.String(), "fin_wait"},
		{StateClosed.String(), "closed"},
		{StateReset.String(), "reset"},
		{State(200).String(), "unknown"},
		{ClientToServer.String(), "c2s"},
		{ServerToClient.String(), "s2c"},
		{SideNone.String(), ""},
		{SideClient.String(), "client"},
		{SideServer.String(), "server"},
		{SideBoth.String(), "both"},
		{EndNone.String(), "live"},
		{EndIdle.String(), "idle"},
		{EndEvicted.String(), "evicted"},
		{EndFlushed.String(), "flushed"},
		{EndPortReuse.String(), "port_reuse"},
		{EndReason(9).String(), "unknown"},
		{EventSet(0).String(), "none"},
		{EventSet(0).Add(Retransmission).Add(Reset).String(), "retransmission,reset"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
