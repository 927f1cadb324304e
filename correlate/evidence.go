package correlate

// Evidence: the frames behind each finding, and the fixed texts that
// explain them.

// evidence lists record i of v as evidence of kind k, unless the flow has
// enough of that kind already; it returns the new item (for the caller to
// add a related frame or delay) or nil.
func (z *analyzer) evidence(st *flowState, k EvidenceKind, v *view, i int32, detail string) *Evidence {
	perKind := max(5, z.maxEv/4)
	st.evCount[k]++
	if st.evCount[k] > perKind || len(st.fr.Evidence) >= z.maxEv {
		return nil
	}
	sf, bf := z.frames(v, i)
	st.fr.Evidence = append(st.fr.Evidence, Evidence{
		Kind: k, SpanFrame: Frame(sf), ServerFrame: Frame(bf),
		Time: Timestamp(z.toA(v, v.c.recs.at(i).ts)), Detail: detail,
	})
	return &st.fr.Evidence[len(st.fr.Evidence)-1]
}

// ref sets e's related frame to record i of v.
func (e *Evidence) ref(v *view, i int32) {
	if e == nil {
		return
	}
	e.RefFrame = Frame(v.c.recs.at(i).frame)
	e.RefIn = ServerSide
	if v.isA {
		e.RefIn = ClientSide
	}
}

// delay sets e's delay.
func (e *Evidence) delay(ns int64) {
	if e != nil {
		e.Delay = usec(ns)
	}
}

// Evidence details, by direction (c2s, s2c): fixed strings, so listing
// evidence allocates nothing but the list.
var (
	lostDetail = [2]string{
		"passed the client-side point and never reached the server-side point; ref: the retransmission at the client side",
		"passed the server-side point and never reached the client-side point; ref: the retransmission at the server side",
	}
	onlyDownDetail = [2]string{
		"seen at the server-side point only: the client-side capture missed it",
		"seen at the client-side point only: the server-side capture missed it",
	}
	ackedDetail = [2]string{
		"missing from the server-side capture, yet acknowledged there without retransmission (ref: the ACK): that capture missed it",
		"missing from the client-side capture, yet acknowledged there without retransmission (ref: the ACK): that capture missed it",
	}
	zeroDetail = [2]string{
		"the client advertised a zero window: its application is not reading",
		"the server advertised a zero window: its application is not reading",
	}
	reorderDetail = [2]string{
		"left the client-side point before the ref packet and reached the server-side point after it: reordered between the points",
		"left the server-side point before the ref packet and reached the client-side point after it: reordered between the points",
	}
	dupDetail = [2]string{
		"a second copy, at the server-side point, of one packet that passed the client-side point once (ref: the first copy): duplicated between the points",
		"a second copy, at the client-side point, of one packet that passed the server-side point once (ref: the first copy): duplicated between the points",
	}
	beyondDetail = [2]string{
		"the earlier copy passed both points, but the server beyond the server-side point did not acknowledge it",
		"the earlier copy passed both points, but the client beyond the client-side point did not acknowledge it",
	}
)
