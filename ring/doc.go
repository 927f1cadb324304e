// Package ring captures packets live from a Linux network interface through
// AF_PACKET TPACKET_V3 memory-mapped rings.
//
// A Capture opens one socket and ring per worker; with more than one worker
// the sockets join a PACKET_FANOUT group (hash mode by default, so both
// directions of a flow reach the same worker). Each worker reads with
// Ring.Next, which fills a caller-owned Packet whose Data is a view into the
// ring: valid until that worker's next call, never copied, never allocated.
// A VLAN tag the kernel stripped is written back into the frame in the
// ring's headroom, as libpcap does, so files and decoders see the frame as it
// was on the wire.
//
// The socket filter (classic BPF, or an eBPF socket-filter program loaded by
// package filter) is attached before any packet can reach the ring: sockets are
// created with protocol 0 and a reject-all filter, bound, joined to the
// fanout group, and only then given the real filter, so a filter's promise
// holds from the first packet and no packet is delivered twice.
//
// On a loopback interface the kernel shows every packet twice, as sent
// (PACKET_OUTGOING) and as received. By default the sent copy is left out,
// as libpcap does, so each packet is captured once; Config.Direction
// chooses otherwise (both copies, received only, sent only). The choice is
// made in the kernel by a test of the packet type in front of the socket
// filter, so a copy left out costs user space nothing.
//
// The ring is driven directly through golang.org/x/sys/unix rather than
// github.com/gopacket/gopacket/afpacket: afpacket's zero-copy read appends
// the VLAN tag to CaptureInfo.AncillaryData (an allocation for every tagged
// packet, with no option to turn it off), takes a mutex and builds a
// time.Time per packet, and binds its socket before a filter can be set
// (the attach race above), without exposing the descriptor to reorder it.
// Waiting for a block blocks the reader's thread in poll(2), as libpcap
// and gopacket do: a goroutine parked in Go's netpoller was woken too late
// under load, and the kernel dropped (docs/BENCHMARKS.md, "Live capture").
//
// ring is for capture only. It does not parse packets (see decode), write
// files (see capfile) or compile filter expressions (see package filter).
// It needs CAP_NET_RAW, and CAP_BPF for the eBPF prefilter.
package ring
