// Package report turns one pass of netblame's analysis into pictures: it
// collects, while the packets go by, the series behind Wireshark-style TCP
// stream graphs (time-sequence with the ACK line and the receive window's
// right edge, the receive window each endpoint advertised, RTT samples,
// throughput each way) and every analysis event as a marked point with its
// frame number, and writes them as one self-contained HTML file (Write) or
// as a static SVG or PNG plot of one connection (WritePlot).
//
// For two capture points it adds correlate's verdict, the clock offset and
// both capture windows, and per connection the one-way transit delay each
// way and where each loss happened (AddBlame).
//
// Data flows one way: the package consumes what track, flowtable and
// correlate produce (Collector.Packet is fed the tracker's packets,
// Collector.Flow the table's finished flows) and knows nothing of the
// command line. It is not an analysis of its own: every event it marks was
// raised by flowtable or correlate.
//
// # Bounded memory
//
// Series are kept for every TCP flow while it is open (or, with
// Options.Flow, only for the selected flows), each series capped at
// Options.MaxPoints: when a series reaches the cap it is reduced in place
// to min/max buckets of a quarter of the cap, which keeps its envelope at
// better than the report's pixel resolution. Points live in chunks that
// freed series hand back to a pool. When a flow closes (FIN both ways, or
// a RST) or leaves the flow table, it is judged: it keeps its series only
// while it is among the Options.Top most troubled flows judged so far,
// and the others are freed at once (a closed connection stays in the
// table for minutes of capture time; waiting for that would hold every
// flow's series). The flows not yet judged hold at most Options.Budget
// points in all: beyond it the series of the least troubled of them (by
// the events seen so far) are dropped, and the report says how many flows
// lost theirs. Events are kept, every one, up to Options.MaxEvents per
// flow (beyond it they are counted, not kept). The report's flow table
// lists at most Options.MaxRows rows, the most troubled.
//
// Before embedding, every series is reduced to Options.Width buckets (one a
// pixel of the plot): each bucket keeps its least and its greatest point,
// so spikes and collapses survive; markers are never reduced.
package report
