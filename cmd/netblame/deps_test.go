package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestShippedDeps keeps benchmark and test code out of the binary: the
// gopacket peers live in internal/benchpeer, imported only by tests, and
// nothing the command links may import testing.
func TestShippedDeps(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skip("needs the go command")
		}
	}
	banned := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var bad []string
		for _, p := range strings.Fields(string(out)) {
			if p == "testing" || strings.HasPrefix(p, "testing/") || strings.Contains(p, "gopacket") || p == "github.com/netblame/netblame/internal/benchpeer" {
				bad = append(bad, p)
			}
		}
		return bad
	}
	if bad := banned("."); len(bad) > 0 {
		t.Errorf("netblame links %v", bad)
	}
	// The check sees what it looks for: the peers' package does link gopacket.
	if bad := banned("../../internal/benchpeer"); !strings.Contains(strings.Join(bad, " "), "gopacket") {
		t.Errorf("go list -deps of internal/benchpeer shows no gopacket (%v): the check is blind", bad)
	}
}
