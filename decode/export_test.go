package decode

// DecodeGeneral is Decode without the fast path, so that tests can check
// that both paths agree.
func (p *Packet) DecodeGeneral(data []byte, link LinkType) error {
	*p = Packet{Link: link}
	return p.link(data, link)
}
