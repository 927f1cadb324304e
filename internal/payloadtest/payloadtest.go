// Package payloadtest walks the TCP and UDP payloads of a capture file,
// for the application-layer decoders' differential tests.
//
// It is for tests only; nothing in the product imports it.
package payloadtest

import (
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// Each calls fn with every unfragmented TCP or UDP packet of the capture
// at path that carries captured payload bytes, in frame order. The
// payload is a view valid during the call. A file that cannot be opened
// yields nothing and its error.
func Each(path string, fn func(frame uint64, p *decode.Packet, payload []byte)) error {
	r, err := capfile.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		cp capfile.Packet
		dp decode.Packet
	)
	for r.Next(&cp) == nil {
		if dp.Decode(cp.Data, cp.Link) != nil || !(dp.IsTCP() || dp.IsUDP()) || dp.Has(decode.Fragment) || dp.CapPayloadLen <= 0 {
			continue
		}
		end := min(dp.PayloadOffset+dp.CapPayloadLen, len(cp.Data))
		if dp.PayloadOffset >= end {
			continue
		}
		fn(cp.Frame, &dp, cp.Data[dp.PayloadOffset:end])
	}
	return r.Err()
}
