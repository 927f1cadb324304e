package correlate

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestJSONUnits: the typed report is written with the documented
// unit-suffixed names and values in those units; enums as their names,
// and "none" values (no reset, no reference) left out.
func TestJSONUnits(t *testing.T) {
	rep := Report{
		Verdict: Server, ClockOffset: 3*time.Second + 2303*time.Nanosecond, ClockUncertainty: -1,
		Orientation: Swapped,
		Flows: []FlowReport{{
			Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("[2001:db8::1]:80"),
			ZeroWindow: 1500 * time.Millisecond, ZeroWindowBy: PartyDurations{Server: 1500 * time.Millisecond},
			ResetBy: ServerParty,
			Transit: Transit{C2S: Stat{Min: 1 * time.Millisecond, Median: 2500 * time.Microsecond, Max: 4 * time.Millisecond, N: 3}},
			Think:   251123456, ThinkMax: 264 * time.Millisecond, ClientWait: 7 * time.Microsecond,
			Handshake: &Handshake{Total: 12 * time.Millisecond, Server: 100 * time.Millisecond, SYNRetrans: 1},
			Evidence: []Evidence{
				{Kind: LostSYN, SpanFrame: 1, RefFrame: 4, RefIn: ClientSide, Delay: 1003 * time.Millisecond},
				{Kind: ServerThink, ServerFrame: 9},
			},
			Blame: Blame{Server: 1520 * time.Millisecond},
		}},
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		`"verdict":"server"`, `"clock_offset_s":3.000002303`, `"clock_uncertainty_ms":-1`, `"orientation":"swapped"`,
		`"client":"10.0.0.1:40000","server":"[2001:db8::1]:80"`,
		`"zero_window_s":1.5,"zero_window_s_by":{"client":0,"server":1.5}`, `"reset_by":"server"`,
		`"transit_ms":{"c2s":{"min":1,"median":2.5,"max":4,"n":3}`,
		`"think_ms":251.123,"think_max_ms":264`, `"client_ms":0.007`,
		`"handshake":{"total_ms":12,"network_c2s_ms":0,"server_ms":100,"network_s2c_ms":0,"client_ms":0,"syn_retransmissions":1}`,
		`{"kind":"lost_syn","span_frame":1,"server_frame":null,`, `"ref_frame":4,"ref_in":"client_side","delay_ms":1003,`,
		`{"kind":"server_think","span_frame":null,"server_frame":9,"time":"1970-01-01T00:00:00.000000000Z","detail":""}`,
		`"blame_s":{"network":0,"server":1.52,"client":0}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("JSON lacks %s\n got %s", want, got)
		}
	}
	// An unbounded uncertainty is the only negative one; a measured one
	// is in milliseconds.
	rep.ClockUncertainty = 5047165 * time.Nanosecond
	if b, _ := json.Marshal(rep); !strings.Contains(string(b), `"clock_uncertainty_ms":5.047165`) {
		t.Errorf("uncertainty: %s", b)
	}
}

func TestEnumNames(t *testing.T) {
	for k := range numEvKinds {
		if s := k.String(); s == "" || strings.HasPrefix(s, "evidence(") {
			t.Errorf("evidence kind %d has no name", k)
		}
	}
	if s := numEvKinds.String(); s != "evidence(19)" {
		t.Errorf("out of range kind: %q", s)
	}
	if AsGiven.String() != "as_given" || Reversed.String() != "reversed" || NoSide.String() != "" || ServerSide.String() != "server_side" ||
		NoParty.String() != "" || ClientParty.String() != "client" {
		t.Error("enum names changed")
	}
}
