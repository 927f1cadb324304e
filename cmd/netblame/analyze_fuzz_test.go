package main

import (
	"github.com/netblame/netblame/filter"
	"strconv"
	"testing"
)

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
