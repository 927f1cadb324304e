package ring

import (
	"os"
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no interface"},
		{Config{Interface: "x", BlockSize: 1000}, "block size"},
		{Config{Interface: "x", FrameSize: 100}, "frame size"},
		{Config{Interface: "x", NumBlocks: -1}, "block count"},
		{Config{Interface: "x", Workers: 65}, "workers"},
		{Config{Interface: "x", Fanout: 9}, "fanout"},
	} {
		_, err := Open(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
	c, _ := Config{Interface: "x"}.withDefaults()
	if c.RingBytes() != DefaultBlockSize*DefaultNumBlocks || c.Snaplen != DefaultSnaplen || c.Workers != 1 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseFanoutMode(t *testing.T) {
	for m := FanoutHash; m <= FanoutCPU; m++ {
		got, err := ParseFanoutMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseFanoutMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseFanoutMode("lb"); err == nil {
		t.Error("ParseFanoutMode(lb) accepted")
	}
}

// TestOpenMissingInterface: a clean error naming the interface, nothing
// left open.
func TestOpenMissingInterface(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW) to open a packet socket")
	}
	_, err := Open(Config{Interface: "rgnosuchif0", Workers: 2})
	if err == nil || !strings.Contains(err.Error(), `"rgnosuchif0"`) {
		t.Fatalf("Open on a missing interface: %v", err)
	}
}
