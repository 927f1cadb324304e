package correlate

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"time"
)

// The JSON output names each quantity with its unit (clock_offset_s,
// think_ms, blame_s, ...), as docs/CLI.md documents; the Go types hold
// time.Duration. The conversion happens here, at the edge, and nowhere
// else. Millisecond values keep microseconds, second values keep what
// their Duration holds (milliseconds for blame, nanoseconds otherwise).

// marshal is json.Marshal without HTML escaping, which the command's
// output turns off ("a -> b" stays readable); an escaped inner value would
// stay escaped.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func jsonMS(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)/time.Microsecond) / 1e3
}
func jsonS(d time.Duration) float64 { return float64(d) / 1e9 }

// MarshalJSON writes the report with unit-suffixed field names.
func (r Report) MarshalJSON() ([]byte, error) {
	unc := float64(r.ClockUncertainty) / 1e6
	if r.ClockUncertainty < 0 {
		unc = -1
	}
	return marshal(struct {
		Verdict                  Verdict        `json:"verdict"`
		Reason                   string         `json:"reason"`
		ClockOffsetS             float64        `json:"clock_offset_s"`
		ClockDriftPPM            float64        `json:"clock_drift_ppm"`
		ClockDriftUncertaintyPPM float64        `json:"clock_drift_uncertainty_ppm"`
		ClockUncertaintyMS       float64        `json:"clock_uncertainty_ms"`
		ClockSource              string         `json:"clock_source"`
		Orientation              Orientation    `json:"orientation"`
		CommonWindow             Window         `json:"common_window"`
		ClientSide               CaptureSummary `json:"client_side"`
		ServerSide               CaptureSummary `json:"server_side"`
		Flows                    []FlowReport   `json:"flows"`
		OnlyClientSide           []string       `json:"only_client_side,omitempty"`
		OnlyServerSide           []string       `json:"only_server_side,omitempty"`
		Warnings                 []string       `json:"warnings,omitempty"`
	}{r.Verdict, r.Reason, jsonS(r.ClockOffset), r.ClockDriftPPM, r.ClockDriftUncertaintyPPM, unc, r.ClockSource,
		r.Orientation, r.CommonWindow, r.ClientSide, r.ServerSide, r.Flows, r.OnlyClientSide, r.OnlyServerSide, r.Warnings})
}

// MarshalJSON writes the flow's report with unit-suffixed field names.
func (f FlowReport) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Client              netip.AddrPort `json:"client"`
		Server              netip.AddrPort `json:"server"`
		ServerSideView      *Endpoints     `json:"server_side,omitempty"`
		MatchedBy           string         `json:"matched_by"`
		Verdict             Verdict        `json:"verdict"`
		Reason              string         `json:"reason"`
		Packets             SideCount      `json:"packets"`
		CaptureDuplicates   SideCount      `json:"capture_duplicates"`
		MatchedPackets      int            `json:"matched_packets"`
		LostBetween         DirCount       `json:"lost_between"`
		LostPct             DirPct         `json:"lost_between_pct"`
		CaptureDrops        int            `json:"capture_drops"`
		OutsideCommonWindow int            `json:"outside_common_window"`
		CaptureDropAt       SideCount      `json:"capture_drops_at"`
		ReorderedBetween    DirCount       `json:"reordered_between"`
		DuplicatedBetween   DirCount       `json:"duplicated_between"`
		Retransmissions     int            `json:"retransmissions"`
		RetransmissionKinds Retrans        `json:"retransmission_kinds"`
		ZeroWindowS         float64        `json:"zero_window_s"`
		ZeroWindowBy        PartyDurations `json:"zero_window_s_by"`
		ZeroWindows         PartyCount     `json:"zero_windows"`
		WindowShrinks       PartyCount     `json:"window_shrinks"`
		ResetBy             Party          `json:"reset_by,omitempty"`
		TransitMS           Transit        `json:"transit_ms"`
		ThinkMS             float64        `json:"think_ms"`
		ThinkMaxMS          float64        `json:"think_max_ms"`
		Exchanges           int            `json:"exchanges"`
		ClientMS            float64        `json:"client_ms"`
		Handshake           *Handshake     `json:"handshake,omitempty"`
		Evidence            []Evidence     `json:"evidence"`
		Blame               Blame          `json:"blame_s"`
	}{f.Client, f.Server, f.ServerSideView, f.MatchedBy, f.Verdict, f.Reason, f.Packets, f.CaptureDuplicates,
		f.MatchedPackets, f.LostBetween, f.LostPct, f.CaptureDrops, f.OutsideCommonWindow, f.CaptureDropAt,
		f.ReorderedBetween, f.DuplicatedBetween, f.Retransmissions, f.RetransmissionKinds,
		jsonS(f.ZeroWindow), f.ZeroWindowBy, f.ZeroWindows, f.WindowShrinks, f.ResetBy, f.Transit,
		jsonMS(f.Think), jsonMS(f.ThinkMax), f.Exchanges, jsonMS(f.ClientWait), f.Handshake, f.Evidence, f.Blame})
}

// MarshalJSON writes the evidence with its delay in milliseconds.
func (e Evidence) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Kind        EvidenceKind `json:"kind"`
		SpanFrame   Frame        `json:"span_frame"`
		ServerFrame Frame        `json:"server_frame"`
		Time        Timestamp    `json:"time"`
		RefFrame    Frame        `json:"ref_frame,omitempty"`
		RefIn       Side         `json:"ref_in,omitempty"`
		DelayMS     float64      `json:"delay_ms,omitempty"`
		Detail      string       `json:"detail"`
	}{e.Kind, e.SpanFrame, e.ServerFrame, e.Time, e.RefFrame, e.RefIn, jsonMS(e.Delay), e.Detail})
}

// MarshalJSON writes the statistic in milliseconds.
func (s Stat) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Min    float64 `json:"min"`
		Median float64 `json:"median"`
		Max    float64 `json:"max"`
		N      int     `json:"n"`
	}{jsonMS(s.Min), jsonMS(s.Median), jsonMS(s.Max), s.N})
}

// MarshalJSON writes the handshake's parts in milliseconds.
func (h Handshake) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		TotalMS    float64 `json:"total_ms"`
		C2SMS      float64 `json:"network_c2s_ms"`
		ServerMS   float64 `json:"server_ms"`
		S2CMS      float64 `json:"network_s2c_ms"`
		ClientMS   float64 `json:"client_ms"`
		SYNRetrans int     `json:"syn_retransmissions"`
	}{jsonMS(h.Total), jsonMS(h.C2S), jsonMS(h.Server), jsonMS(h.S2C), jsonMS(h.Client), h.SYNRetrans})
}

// MarshalJSON writes the blame in seconds.
func (b Blame) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Network float64 `json:"network"`
		Server  float64 `json:"server"`
		Client  float64 `json:"client"`
	}{jsonS(b.Network), jsonS(b.Server), jsonS(b.Client)})
}

// MarshalJSON writes the durations in seconds.
func (p PartyDurations) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Client float64 `json:"client"`
		Server float64 `json:"server"`
	}{jsonS(p.Client), jsonS(p.Server)})
}
