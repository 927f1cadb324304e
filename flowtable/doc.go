// Package flowtable tracks the TCP and UDP flows of a packet stream in a
// fixed-size, lock-sharded table and analyses every TCP connection the way
// Wireshark's TCP dissector does (retransmissions, out-of-order, lost
// segments, duplicate ACKs, zero windows, window full and updates,
// keep-alives), plus what Wireshark lacks: window shrink, handshake times,
// RTT samples and who reset or closed the connection.
//
// It is for one pass over packets in capture order, from a file or a live
// ring, with 0 allocations per packet: capacity (flows and bytes) is fixed
// when the table is made, flow state lives in preallocated slabs indexed by
// uint32, and idle flows expire by state-dependent timeouts measured in
// packet time, so a file replays identically. It is not a stream
// reassembler, keeps no payload bytes, and knows nothing of output: events
// and finished flows go to the callbacks in Config.
//
// # Flows and direction
//
// A flow key is direction-independent: the two (address, port) endpoints in
// canonical order, the IP protocol and the outermost VLAN ID (unless
// Config.IgnoreVLAN, which tshark-compatible counting needs). The client of a
// flow is named from the first packet seen of it by flowrule.SourceIsClient
// (the SYN's sender, the SYN-ACK's receiver, else by ports), the rule
// correlate follows too. A pure SYN seen later in a flow that had none
// makes its sender the client.
//
// A pure SYN whose sequence number differs from the ISN already known for
// its direction starts a new flow on the same key (Wireshark's "ports
// reused"): the old flow is handed to OnExpire with EndPortReuse.
//
// # Concurrency
//
// Table.Update locks the one shard the packet hashes to. In owner mode each
// goroutine gets an Owner of a disjoint set of shards (Table.Owner) and is
// given only packets of those shards (Table.ShardOf); Owner.Update takes
// no lock. Packet time is shared by all shards: whenever it advances by a
// millisecond, the updating goroutine sweeps another shard for expired
// flows, so shards without traffic still expire theirs. Callbacks
// run synchronously inside Update, with the shard locked: they must not
// call back into the Table.
//
// # The common packet
//
// Most packets of real traffic continue the flow of the packet before them
// and are steady segments: in order, ACK, no SYN, FIN or RST, neither a
// duplicate ACK, a probe nor a spurious retransmission. An Owner reuses the
// previous packet's key, hash and shard when a packet has its addresses,
// ports and protocol or their reverse (untagged packets, or any when VLANs
// are ignored), and steadyPacket applies to a steady segment only the
// rules that can fire on it. Both give the results of the full path, which
// the lockstep tests check packet by packet.
//
// # Wireshark compatibility
//
// The TCP rules follow tcp_analyze_sequence_number in Wireshark's
// epan/dissectors/packet-tcp.c, in its order and with its quirks: a zero
// sequence number or ACK means "not seen yet", the window of an unseen
// direction is 0xffffffff, window_full is disabled while the reverse
// window scale is unknown, a retransmitted SYN with the same ISN is a
// retransmission, the out-of-order threshold is the iRTT (3 ms before it is
// known), and a keep-alive is never a retransmission. Wireshark
// reassembles IP fragments and analyses the segment at its last fragment:
// package defrag does that before the table (netblame analyze uses it); a
// fragment given to the table itself is counted but not analysed. Wireshark stops
// adding to its unacked list after 10000 segments; flowtable's list is a
// small ring used only for RTT samples, which no event depends on.
package flowtable
