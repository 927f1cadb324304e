package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

const rolePackage = "github.com/netblame/netblame/internal/netlab/cmd/netlabrole"

var roleExe struct {
	once sync.Once
	path string
	note string
}

// roleExecutable returns the program to run the lab's roles with: this
// executable, or, when it is race-instrumented, a plain build of
// cmd/netlabrole made once per process (the race detector slows the
// impairer enough to queue a 20,000-connection scenario's packets; the
// roles' own code is tested without it). note says why the fallback was
// taken when the build failed.
func roleExecutable() (path, note string, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", "", fmt.Errorf("netlab: locating the test binary: %w", err)
	}
	if !raceEnabled {
		return self, "", nil
	}
	roleExe.once.Do(func() {
		dir, err := os.MkdirTemp("", "netlabrole")
		if err != nil {
			roleExe.note = err.Error()
			return
		}
		out := filepath.Join(dir, "netlabrole")
		cmd := exec.Command("go", "build", "-o", out, rolePackage)
		cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			roleExe.note = fmt.Sprintf("building %s: %v: %s", rolePackage, err, b)
			return
		}
		roleExe.path = out
	})
	if roleExe.path == "" {
		return self, "race-built role programs (" + roleExe.note + ")", nil
	}
	return roleExe.path, "", nil
}
