package netlab

import (
	"encoding/json"
	"fmt"
	"os"
)

// The lab's programs (server, client, impairer) are this same executable
// (or, under the race detector, cmd/netlabrole built plain: see
// roleExecutable), re-executed inside a namespace with `ip netns exec NS <exe>` and
// NETLAB_ROLE naming the role: a goroutine cannot safely move into another
// network namespace, a fresh process can. init runs the role before the
// test framework starts, so any test binary that imports netlab can serve
// as the lab's programs without a TestMain.
const (
	envRole   = "NETLAB_ROLE"
	envConfig = "NETLAB_CONFIG"
)

func init() {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	os.Exit(runRole(role, os.Getenv(envConfig)))
}

// roleConfig is what a role process reads from NETLAB_CONFIG.
type roleConfig struct {
	Scenario Scenario `json:"scenario"`
	// Out is where the role writes its JSON result.
	Out string `json:"out"`
	// Server: address to listen on.
	Listen string `json:"listen,omitempty"`
	// Client: address to dial and the local address to bind.
	Target    string `json:"target,omitempty"`
	LocalAddr string `json:"local_addr,omitempty"`
	// Impairer: the client's addresses, to tell directions apart.
	ClientAddrs []string `json:"client_addrs,omitempty"`
}

func runRole(role, cfgPath string) int {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "netlab %s: %v\n", role, err)
		return 2
	}
	var cfg roleConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "netlab %s: config: %v\n", role, err)
		return 2
	}
	switch role {
	case "server":
		err = serverRole(&cfg)
	case "client":
		err = clientRole(&cfg)
	case "impairer":
		err = impairerRole(&cfg)
	default:
		err = fmt.Errorf("unknown role")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "netlab %s: %v\n", role, err)
		return 1
	}
	return 0
}

// writeJSON writes v to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// readJSON reads path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
