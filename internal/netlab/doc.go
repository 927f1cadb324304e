// Package netlab is netblame's two-point test lab: it builds three network
// namespaces (client, router, server) joined by veth pairs, runs real Linux
// TCP between Go client and server programs, impairs the traffic in the
// router, captures it at two points (the router's client-facing interface,
// "span", and the server's own interface, "server") and records the ground
// truth of what happened between them in truth.json.
//
// The router forwards through an NFQUEUE impairer (this package's own
// minimal nfnetlink_queue client) that drops chosen packets with a seeded
// generator and logs every drop with its IP ID, sequence number and
// length; it also delays packets, as the kernel here has no netem, holds
// chosen ones back so later ones overtake them (reordering), and sends
// chosen ones twice through a raw socket (duplication). TBF
// gives a congested bottleneck, iptables SNAT/DNAT changes tuples between
// the points, and after capture server.pcap's clock can be shifted and
// span.pcap can lose packets like an overloaded SPAN port. The truth is
// then recovered from the raw captures by matching every transmission at
// both points, and the impairer's log is checked against it one by one.
//
// It is for tests (correlate's, the samples generator's) and needs root,
// ip, tcpdump, iptables, ethtool and tc; Available says why it cannot run.
// It is not a network emulator for anything else: addresses are private
// and exist only inside the namespaces it creates and always deletes.
//
// The lab's programs are the calling test binary itself, re-executed in a
// namespace with NETLAB_ROLE set (see roles.go); importing this package is
// all a test binary needs for that.
package netlab
