package ring

import (
	"io"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/linktype"
)

// Source reads one worker's ring as capture-file packets (capfile.Packet,
// the form track and correlate read, so a live interface feeds whatever
// a file feeds), numbering frames from 1. Poll timeouts are waited
// through; a stopped capture ends with io.EOF once its ring is drained.
type Source struct {
	r     *Ring
	link  linktype.Type
	frame uint64
	p     Packet
}

var _ capfile.Source = (*Source)(nil)

// Source returns worker i's ring as a Source, for one goroutine.
func (c *Capture) Source(i int) *Source {
	return &Source{r: c.rings[i], link: c.link}
}

// Next returns the next packet, waiting for one.
func (s *Source) Next(p *capfile.Packet) error {
	for {
		err := s.r.Next(&s.p)
		switch err {
		case nil:
			s.frame++
			*p = capfile.Packet{Frame: s.frame, Timestamp: s.p.Timestamp, Data: s.p.Data, OrigLen: s.p.OrigLen, Link: s.link}
			return nil
		case ErrTimeout:
			continue
		case ErrStopped:
			return io.EOF
		}
		return err
	}
}
