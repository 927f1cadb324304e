package main

import (
	"testing"
)

// FuzzParseFlowSpec: --trace's FLOW parser never panics, and what it
// accepts prints back to a spec that parses to the same flow.
func FuzzParseFlowSpec(f *testing.F) {
	for _, s := range []string{"0", "17", "10.0.0.1:80-10.0.0.2:5000", "[::1]:80-[::1]:1", "[fe80::1%eth0]:1-1.2.3.4:2",
		"::ffff:1.2.3.4:80-1.2.3.4:81", "1.2.3.4:80", "-", "1.2.3.4:99999-1.2.3.4:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseFlowSpec(s)
		if err != nil {
			return
		}
		again, err := parseFlowSpec(spec.flagValue())
		if err != nil || again != spec {
			t.Fatalf("%q parsed as %v, printed %q, parsed again as %v (%v)", s, spec, spec.flagValue(), again, err)
		}
	})
}

// FuzzFilterParse: --host and --port values never panic the parser, and
// an accepted filter matches a flow of its own host and port.
func FuzzFilterParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "fe80::1%eth0", "::ffff:10.0.0.1", "x", "1.2.3.4/33"} {
		f.Add(s, "80")
	}
	f.Fuzz(func(t *testing.T, host, port string) {
		var pf packetFilter
		if err := pf.parse([]string{host}, []string{port}); err != nil {
			return
		}
		a := pf.hosts[0].Addr()
		if !pf.matchEndpoints(a, a, pf.ports[0], 1, true) {
			t.Fatalf("--host %q --port %q does not match %v port %d", host, port, a, pf.ports[0])
		}
	})
}
