package main

import (
	"github.com/netblame/netblame/filter"
	"strconv"
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

// FuzzFilterParse: --host and --port values never panic the parser; an
// accepted pair compiles to an expression that matches a TCP flow of its
// own host and port, and not one of another port.
func FuzzFilterParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "fe80::1%eth0", "::ffff:10.0.0.1", "x", "1.2.3.4/33"} {
		f.Add(s, "80")
	}
	f.Fuzz(func(t *testing.T, host, port string) {
		var vf viewFilter
		if err := vf.parse([]string{host}, []string{port}); err != nil {
			return
		}
		p, _ := filter.ParseHost(host)
		n, _ := strconv.ParseUint(port, 10, 16)
		a := p.Addr()
		if !vf.m.MatchEndpoints(a, a, 6, uint16(n), 1) {
			t.Fatalf("--host %q --port %q (%s) does not match %v port %d", host, port, vf.expr, a, n)
		}
		if n != 1 && vf.m.MatchEndpoints(a, a, 6, uint16(n+1), 1) {
			t.Fatalf("--host %q --port %q (%s) matches port %d", host, port, vf.expr, n+1)
		}
	})
}
