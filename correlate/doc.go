// Package correlate takes two captures of the same traffic, one near the
// client (a SPAN port on its access switch, say) and one at or near the
// server, and says where things went wrong: between the two points (the
// network), at the server, or at the client.
//
// It is for TCP. It is not a general pcap diff: other protocols are
// counted and ignored, and it judges delay and loss, not content.
//
// # How it works
//
// Each capture is read once, in one streaming pass, into a fixed 32-byte
// record per TCP packet (no pointers, stored in chunks that never move)
// and a summary per connection. Then:
//
//   - Connections are paired: same addresses and ports first; otherwise,
//     through NAT, by initial sequence numbers (plain NAT keeps them), by
//     the first data segment's seq, ack and length, and last by a hash of
//     the first payload bytes, nearest in time. Connections seen at one
//     point only are listed.
//   - Packets are paired within a connection and direction by seq, ack,
//     payload length and SYN/FIN/RST, telling copies apart by IP ID and TCP
//     timestamp (which a retransmission changes and plain NAT keeps) and,
//     among identical copies, by order: the nth copy at one point is the
//     nth at the other. Where a middlebox rewrote IP IDs or timestamps so
//     that fewer than half the packets match that way, the direction is
//     matched by identity and order alone. A small hash table per
//     connection over the server side's records keeps this linear in
//     packets. The TCP checksum is not used: a server capture taken before
//     checksum offload holds partial checksums, and leaving it out keeps
//     records at 32 bytes.
//
// Both captures are held as records (32 bytes a packet, about 60 in all
// with the indexes and the report), not streamed through a sliding window:
// matching then does not depend on the clocks' offset, which is only known
// afterwards, nor on how far apart in time two copies of a packet were.
//   - The clock offset is estimated NTP-style: for a matched packet, server
//     time minus client-side time is offset+transit going to the server
//     and offset-transit coming back, so the least value each way (the
//     least queueing) brackets the offset; their midpoint is the estimate
//     and half their sum (half the shortest round trip between the points)
//     bounds its error, since only the sum of the two shortest one-way
//     delays is known. Drift tilts the least delay up in one direction and
//     down in the other: it is the slope of the lower envelope of
//     per-time-bucket minima, fitted in each direction, reported only when
//     the two directions agree (within a third of its size) and it moves
//     the clocks apart by 0.25 ms or more over the capture; queueing, which
//     only ever adds delay, does not tilt a lower envelope the same way in
//     both directions. Every time used below is in the client side's clock.
//
// # What is classified, and where
//
// For each direction, the point the packets pass first is upstream (the
// client side for the client's packets, the server side for the server's).
//
//   - Lost between the points: passed upstream, never seen downstream, and
//     the receiver did not prove it arrived. Counted per direction. A
//     connection the client side saw only trying to open (SYNs, no answer)
//     to a server the server side captured other traffic of at the time
//     is reported too, each SYN lost between the points.
//   - Capture drop: seen downstream but not upstream (the upstream capture
//     missed it), or missing downstream although the receiver's cumulative
//     ACK, seen at the downstream point after the packet could have
//     arrived, covered it before any later copy arrived (and no earlier
//     copy had arrived, which could have been what was acknowledged).
//     Never blamed on the network. A packet without data (a pure ACK) cannot be proven
//     delivered this way, so one missing downstream counts as lost.
//   - Retransmissions at the sender's point, by what happened to the
//     previous copy: lost between the points; passed both points but the
//     receiver beyond the far point never acknowledged it (loss beyond the
//     far point); already acknowledged at the sender's point (spurious);
//     acknowledged at the receiver's point before the new copy arrived
//     (premature timer, or the ACK was lost between the points), or the
//     earlier copy was still on its way between the points, delayed
//     (premature too).
//   - Zero windows and shrinking windows, at the capture point next to the
//     endpoint that advertised them, attributed to that endpoint: its
//     application is not reading.
//   - Time: transit each way from matched packets; server think time (the
//     request's last new byte at the server to the response's first new
//     byte leaving it); client time (the response's last byte at the client
//     side to the next request); the handshake split into the network each
//     way, the server's SYN to SYN-ACK and the client's SYN-ACK to ACK.
//
// # The verdict
//
// Each party is charged time, and the verdict goes to the one charged most
// among those whose finding is significant:
//
//   - network: significant when a packet carrying data, SYN or FIN was lost
//     between the points (its loss forced a retransmission, a delay the
//     sender cannot avoid), or when the median transit in a direction is
//     at least 50 ms and at least the minimum transit above the minimum
//     (queueing that doubles the path delay and takes half of the 100 ms
//     budget below; a few ms of jitter is normal),
//     or when the median round trip between the points alone is 100 ms or
//     more (latency every turn of the conversation pays). Charged the union
//     of the loss recovery intervals (lost copy to the next copy at the
//     sender's point), the queueing, and that round trip once per turn
//     (handshake, each request and response).
//   - server: charged think times of 100 ms or more that also exceed the
//     round trip between the points, the time it advertised a zero window
//     and a SYN-ACK slower than 100 ms; significant at 100 ms in all (when
//     a response stops feeling instant) or when the server reset the
//     connection.
//   - client: charged the time it advertised a zero window; significant at
//     100 ms, or when the client reset the connection.
//   - none: nothing significant (lost pure ACKs and capture drops alone do
//     not count).
//   - inconclusive: fewer than half of the smaller side's packets of the
//     connection match the other side's (the captures do not hold the same
//     packets); overall, when no connection is in both captures.
//
// The overall verdict is the party with the most time charged over the
// connections that blame it. Evidence lists, per connection, the packets
// behind each finding by frame number in each file, so both captures can
// be opened at those frames.
//
// # What it cannot yet tell
//
// Whether a pure ACK missing downstream was lost or missed by that capture;
// loss between the client and a capture point near it (the client-side
// capture never sees such packets); sequence-number rewriting middleboxes
// are matched only through the payload tier; connections longer than 2 GB
// per direction (sequence numbers are compared within a 2^31 window).
package correlate
