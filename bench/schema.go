package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// RequiredKeys are the keys every measurement line of --format json has,
// besides one of bytes_per_flow and bytes_per_packet.
var RequiredKeys = []string{"suite", "impl", "case", "packets", "ns_per_packet", "mpps", "allocs_per_packet", "drops", "ratio_to_netblame"}

// ValidateJSON checks a --format json output: a header object first
// (naming the CPU, cores, Go and the peers' versions), then measurement
// lines that each parse and hold every required key and exactly one of
// bytes_per_flow and bytes_per_packet, each ratio_to_netblame equal to the
// line's ns_per_packet over that of the netblame line of the same suite
// and case. It returns the measurement lines as decoded maps.
func ValidateJSON(out []byte) ([]map[string]any, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) < 2 {
		return nil, fmt.Errorf("%d lines: want a header and measurements", len(lines))
	}
	var h Header
	if err := json.Unmarshal(lines[0], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if !h.Header || h.CPU == "" || h.Cores == 0 || h.Go == "" {
		return nil, fmt.Errorf("header %s: no CPU, cores or Go version", lines[0])
	}
	var errs []error
	for _, p := range []string{"tshark", "tcpdump", "tcptrace", "gopacket"} {
		if h.Peers[p] == "" {
			errs = append(errs, fmt.Errorf("header names no %s version", p))
		}
	}
	var ms []map[string]any
	base := map[string]float64{}
	key := func(m map[string]any) string {
		s, _ := m["suite"].(string)
		c, _ := m["case"].(string)
		return s + "\x00" + c
	}
	for i, l := range lines[1:] {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+2, err))
			continue
		}
		for _, k := range RequiredKeys {
			if _, ok := m[k]; !ok {
				errs = append(errs, fmt.Errorf("line %d: no %q", i+2, k))
			}
		}
		_, bf := m["bytes_per_flow"]
		_, bp := m["bytes_per_packet"]
		if bf == bp {
			errs = append(errs, fmt.Errorf("line %d: want exactly one of bytes_per_flow and bytes_per_packet", i+2))
		}
		if m["impl"] == "netblame" {
			if ns, ok := m["ns_per_packet"].(float64); ok {
				base[key(m)] = ns
			}
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		r, ok := m["ratio_to_netblame"].(float64)
		if !ok {
			continue
		}
		b := base[key(m)]
		ns, _ := m["ns_per_packet"].(float64)
		if b == 0 {
			errs = append(errs, fmt.Errorf("%s/%s/%s: a ratio without a netblame line", m["suite"], m["impl"], m["case"]))
		} else if math.Abs(r-ns/b) > 1e-3*math.Max(1, ns/b) {
			errs = append(errs, fmt.Errorf("%s/%s/%s: ratio %v, want %v / %v", m["suite"], m["impl"], m["case"], r, ns, b))
		}
	}
	return ms, errors.Join(errs...)
}
