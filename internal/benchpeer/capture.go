package benchpeer

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/internal/ringtest"
)

func init() {
	captureCases = func(env *bench.Env) []bench.Case {
		lab, err := env.CaptureLab()
		if err != nil {
			return []bench.Case{{Impl: "gopacket-afpacket", Case: "tcp-bulk", Skip: err.Error()}}
		}
		step := time.Second
		if env.Quick {
			step = 250 * time.Millisecond
		}
		return []bench.Case{lab.Case("gopacket-afpacket", &afpacketCapturer{}), lab.RateCase("gopacket-afpacket", &afpacketCapturer{}, step)}
	}
}

// afpacketCapturer is gopacket's afpacket reader, TPACKET_V3 with the
// same block size and count as netblame's ring and the snap length cut by
// a socket filter (afpacket has no snap length of its own), read with
// ZeroCopyReadPacketData on one thread.
type afpacketCapturer struct {
	h    *afpacket.TPacket
	stop atomic.Bool
	n    uint64
	done <-chan bench.ThreadResult
}

func (a *afpacketCapturer) Start(lab *bench.CaptureLab) error {
	err := ringtest.InNS(lab.Pair.NSB, func() (err error) {
		a.h, err = afpacket.NewTPacket(
			afpacket.OptInterface(lab.Pair.IfB),
			afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
			afpacket.OptBlockSize(bench.CaptureBlockSize),
			afpacket.OptNumBlocks(bench.CaptureNumBlocks),
			afpacket.OptFrameSize(2048),
			afpacket.OptPollTimeout(100*time.Millisecond),
		)
		if err != nil {
			return err
		}
		raw, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: bench.CaptureSnaplen}})
		if err != nil {
			return err
		}
		return a.h.SetBPF(raw)
	})
	if err != nil {
		if a.h != nil {
			a.h.Close()
		}
		return err
	}
	a.n = 0
	a.stop.Store(false)
	a.done = bench.ThreadLoop(func() error {
		for {
			_, _, err := a.h.ZeroCopyReadPacketData()
			switch {
			case err == nil:
				a.n++
			case errors.Is(err, afpacket.ErrTimeout):
				if a.stop.Load() {
					return nil
				}
			default:
				return err
			}
		}
	})
	return nil
}

func (a *afpacketCapturer) Stop() (bench.CaptureResult, error) {
	// The load is over: read until the ring has been empty for a poll
	// timeout, then stop.
	a.stop.Store(true)
	tr := <-a.done
	_, v3, err := a.h.SocketStats()
	a.h.Close()
	return bench.CaptureResult{Packets: a.n, Drops: uint64(v3.Drops()), CPU: tr.CPU}, errors.Join(tr.Err, err)
}
