package ring

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/linktype"
)

// Capture is a set of fanout workers capturing on one interface.
type Capture struct {
	cfg    Config
	link   linktype.Type
	rings  []*Ring
	stop   *stopper
	filter string // "none", "classic" or "ebpf"
	notice string
	// loopback: the interface shows each packet twice; keep is the
	// direction in force (Config.Direction with auto resolved).
	loopback bool
	keep     Direction
	xdp      *xdpState // nil for TPACKET_V3
}

// Open opens cfg.Workers sockets and rings on cfg.Interface, joins them to
// one fanout group and attaches the filter. Packets arriving before Open
// returns are not captured; every packet after it that the filter accepts
// is, unless the kernel reports it dropped.
func Open(cfg Config) (*Capture, error) {
	if cfg.XDP != XDPOff {
		return openXDP(cfg)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	st := &stopper{}
	c := &Capture{cfg: cfg, stop: st}
	for i := 0; i < cfg.Workers; i++ {
		r, link, loopback, err := openRing(&c.cfg, i, st)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.link, c.loopback = link, loopback
		c.rings = append(c.rings, r)
		st.rings = append(st.rings, r)
	}
	if err := c.attachFilter(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// attachFilter replaces every worker's reject-all filter by the real one.
// The kernel swaps socket filters atomically, so each packet meets exactly
// one of the two.
func (c *Capture) attachFilter() error {
	prog := c.cfg.Filter
	if prog == nil {
		// Keep everything, cut to the snap length in the kernel.
		prog = []bpf.Instruction{bpf.RetConstant{Val: c.cfg.Snaplen}}
		c.filter = "none"
	}
	c.keep = c.cfg.Direction
	if c.keep == DirectionAuto {
		c.keep = DirectionInOut
		if c.loopback {
			c.keep = DirectionIn
		}
	}
	prog = withDirection(c.keep, prog)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("ring: assembling the classic filter: %w", err)
	}
	if c.cfg.Filter != nil && c.cfg.EBPF != nil {
		err := c.attachEBPF(prog)
		if err == nil {
			c.filter = "ebpf"
			return nil
		}
		c.notice = fmt.Sprintf("eBPF prefilter unavailable (%v); using the classic BPF program", err)
	}
	for _, r := range c.rings {
		if err := attachClassicRaw(r.fd, raw); err != nil {
			if isPerm(err) {
				return permissionError("attaching the socket filter", err)
			}
			return fmt.Errorf("ring: attaching the classic filter: %w", err)
		}
	}
	if c.filter == "" {
		c.filter = "classic"
	}
	return nil
}

// withDirection puts in front of prog the instructions that leave out the
// packets d does not keep, by the packet type the kernel gives the socket
// buffer (SKF_AD_PKTTYPE: skb->pkt_type, PACKET_OUTGOING for the copy of a
// sent packet). prog's own jumps are relative, so they are untouched; the
// accumulator is set back to 0, as a classic program finds it.
func withDirection(d Direction, prog []bpf.Instruction) []bpf.Instruction {
	var keepIf bpf.JumpTest
	switch d {
	case DirectionIn:
		keepIf = bpf.JumpNotEqual
	case DirectionOut:
		keepIf = bpf.JumpEqual
	default:
		return prog
	}
	pre := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: keepIf, Val: uint32(PacketOutgoing), SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.LoadConstant{Dst: bpf.RegA, Val: 0},
	}
	return append(pre, prog...)
}

func (c *Capture) attachEBPF(prog []bpf.Instruction) error {
	p, err := c.cfg.EBPF(prog)
	if err != nil {
		if isPerm(err) {
			return fmt.Errorf("loading needs CAP_BPF: %w", err)
		}
		return err
	}
	if p == nil {
		return errors.New("no program")
	}
	for i, r := range c.rings {
		if err := attachEBPF(r.fd, p.FD()); err != nil {
			// Put back what was attached so all workers filter alike.
			for _, q := range c.rings[:i] {
				attachClassicRaw(q.fd, rejectAll)
			}
			return fmt.Errorf("SO_ATTACH_BPF: %w", err)
		}
	}
	return nil
}

// Loopback reports whether the interface is a loopback one (IFF_LOOPBACK),
// where the kernel shows every packet twice: as sent and as received.
func (c *Capture) Loopback() bool { return c.loopback }

// Direction is the direction in force: Config.Direction, with
// DirectionAuto resolved to DirectionIn on a loopback interface and to
// DirectionInOut elsewhere.
func (c *Capture) Direction() Direction { return c.keep }

// Workers returns the workers' rings; give each its own goroutine.
func (c *Capture) Workers() []*Ring { return c.rings }

// Link is the link type of the captured frames.
func (c *Capture) Link() linktype.Type { return c.link }

// Config is the configuration in use, defaults filled in.
func (c *Capture) Config() Config { return c.cfg }

// FilterKind says which filter is attached: "none", "classic", "ebpf",
// or for XDP capture "xdp" (with a filter) or "xdp (no filter)".
func (c *Capture) FilterKind() string { return c.filter }

// FilterNotice is a one-line notice when the eBPF prefilter could not be
// used and the classic program was attached instead; "" otherwise.
func (c *Capture) FilterNotice() string { return c.notice }

// Stop makes every worker's Next return ErrStopped once it has read what
// the kernel captured up to now (it waits at most BlockTimeout plus a
// little for the block being filled). Safe to call from any goroutine,
// more than once, e.g. from a signal handler goroutine.
func (c *Capture) Stop() { c.stop.signal() }

// Stats reads every worker's counters and sums them.
func (c *Capture) Stats() (Stats, error) {
	s := Stats{Total: WorkerStats{Worker: -1}}
	for _, r := range c.rings {
		w, err := r.Stats()
		if err != nil {
			return s, err
		}
		s.Workers = append(s.Workers, w)
		s.Total.Delivered += w.Delivered
		s.Total.Bytes += w.Bytes
		s.Total.Kernel.add(w.Kernel)
	}
	return s, nil
}

// Close releases sockets and rings. Call it after every worker has
// returned from Next: the packet views die with the ring.
func (c *Capture) Close() error {
	if c.xdp != nil {
		c.xdp.detach()
	}
	for _, r := range c.rings {
		r.Stats() // keep the final counters readable after Close
		r.close()
	}
	return nil
}
