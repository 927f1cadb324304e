package flowtable

import (
	"errors"
	"fmt"
	"time"
)

// Timeouts are the idle timeouts of the four classes of flow, in packet
// time. Zero fields take the defaults.
type Timeouts struct {
	HalfOpen    time.Duration // TCP before the handshake completes
	Established time.Duration // TCP established (or joined mid-stream)
	Closing     time.Duration // TCP after FIN or RST
	UDP         time.Duration // UDP flows
}

// DefaultTimeouts and DefaultEmergencyTimeouts follow Suricata's flow
// defaults in spirit: generous normally, short for half-open flows when a
// shard fills up with them (a SYN flood). A closed connection is kept as
// long as an idle open one: a late segment or a RST that answers it long
// after the FINs belongs to that connection, as in tshark's streams, and
// must not start a new flow whose client is guessed, often wrongly.
var (
	DefaultTimeouts          = Timeouts{HalfOpen: 60 * time.Second, Established: 600 * time.Second, Closing: 600 * time.Second, UDP: 300 * time.Second}
	DefaultEmergencyTimeouts = Timeouts{HalfOpen: 5 * time.Second, Established: 300 * time.Second, Closing: 10 * time.Second, UDP: 60 * time.Second}
)

// Config configures a Table.
type Config struct {
	// Shards is the number of independently locked shards, a power of two
	// up to 65536; 0 means 64 (fewer when Capacity is small).
	Shards int
	// Capacity is the most flows the table holds; storage for all of them
	// is allocated by New. 0 means 65536.
	Capacity int
	// Timeouts and EmergencyTimeouts: idle timeouts (zero fields take the
	// defaults).
	Timeouts          Timeouts
	EmergencyTimeouts Timeouts
	// IgnoreVLAN leaves the VLAN ID out of the flow key, as Wireshark's
	// conversations do. Set it for tshark-identical results, and for SPAN
	// captures where only one direction carries a tag (otherwise each
	// direction becomes its own flow); leave it unset when address spaces
	// overlap across VLANs.
	IgnoreVLAN bool
	// Seed for the hash; 0 picks a random one (tests set it to replay).
	Seed uint64
	// OnEvent, when set, is called for every event of every packet, in
	// packet order within a flow. The record is valid only during the call.
	OnEvent func(*EventRecord)
	// OnExpire, when set, receives every flow that leaves the table (idle,
	// evicted, replaced, flushed). The record is valid only during the call.
	OnExpire func(*FlowRecord)
}

// Timeout classes (the LRU list a flow is on).
const (
	classHalfOpen = iota
	classEstablished
	classClosing
	classUDP
	numClasses
)

func (t Timeouts) withDefaults(d Timeouts) [numClasses]int64 {
	pick := func(v, def time.Duration) int64 {
		if v <= 0 {
			return int64(def)
		}
		return int64(v)
	}
	return [numClasses]int64{
		pick(t.HalfOpen, d.HalfOpen), pick(t.Established, d.Established),
		pick(t.Closing, d.Closing), pick(t.UDP, d.UDP),
	}
}

// ErrConfig is wrapped by New's errors about a bad Config.
var ErrConfig = errors.New("flowtable: bad config")

func (c *Config) normalize() (shards, perShard int, err error) {
	capacity := c.Capacity
	if capacity == 0 {
		capacity = 65536
	}
	if capacity < 0 || capacity > 1<<30 {
		return 0, 0, fmt.Errorf("%w: capacity %d out of range", ErrConfig, capacity)
	}
	shards = c.Shards
	if shards == 0 {
		shards = 64
		for shards > 1 && capacity/shards < 256 {
			shards /= 2
		}
	}
	if shards < 1 || shards > 1<<16 || shards&(shards-1) != 0 {
		return 0, 0, fmt.Errorf("%w: shards %d is not a power of two in [1, 65536]", ErrConfig, shards)
	}
	perShard = (capacity + shards - 1) / shards
	if perShard > 1<<24-2 {
		return 0, 0, fmt.Errorf("%w: %d flows per shard is too many (max %d)", ErrConfig, perShard, 1<<24-2)
	}
	return shards, perShard, nil
}
