package bench

import (
	"fmt"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

// PipelineResult is what one pass of the analysis pipeline saw.
type PipelineResult struct {
	Packets uint64
	Bytes   uint64 // captured bytes read
	Table   flowtable.TableStats
}

// Pipeline is netblame's whole single-capture pipeline, the work of
// `netblame analyze` before any output: read the file, decode every packet,
// put fragmented datagrams together, and feed the flow table with its TCP
// analysis. table is reused across runs (flushed at the end), so a
// benchmark measures the packet path and not the table's allocation.
func Pipeline(path string, table *flowtable.Table) (PipelineResult, error) {
	var res PipelineResult
	r, err := capfile.Open(path)
	if err != nil {
		return res, err
	}
	defer r.Close()
	// One goroutine: it owns the whole table, no locks.
	t, err := track.New(track.Options{Owner: table.SoleOwner()})
	if err != nil {
		return res, err
	}
	err = t.Run(r, func(p *track.Packet) error {
		res.Bytes += uint64(len(p.Capture.Data))
		return nil
	})
	res.Packets = t.Stats().Packets
	if err != nil {
		return res, err
	}
	table.Flush()
	res.Table = table.Stats()
	return res, nil
}

// WriteTraffic writes packets frames of generated traffic (then, unless
// cfg.MidTraffic, the ones that close every open connection) to path,
// whose extension picks the format as capfile.Create does. It returns the
// number of frames written.
func WriteTraffic(path string, cfg TrafficConfig, packets int) (int, error) {
	snap := cfg.Snaplen
	if snap == 0 {
		snap = 262144
	}
	w, err := capfile.Create(path, decode.LinkEthernet, snap)
	if err != nil {
		return 0, err
	}
	tr := NewTraffic(cfg)
	buf := make([]byte, MaxFrame)
	n := 0
	for ; ; n++ {
		if n == packets {
			if cfg.MidTraffic {
				break
			}
			tr.Drain()
		}
		ts, frame, orig := tr.Next(buf)
		if frame == nil {
			break
		}
		if err := w.WritePacket(ts, frame, orig); err != nil {
			w.Close()
			return n, fmt.Errorf("bench: writing %s: %w", path, err)
		}
	}
	return n, w.Close()
}
