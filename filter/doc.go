// Package filter compiles tcpdump (pcap-filter) expressions to classic BPF,
// runs them on frames from capture files, and translates classic programs
// to eBPF socket filters with counters.
//
// It exists so that netblame filters as tcpdump does without cgo or
// libpcap: in the kernel for live capture (Compile, NewEBPF), and in user
// space for files (NewMatcher, NewLinkMatcher; `netblame analyze -f`).
// Matcher runs CompileOffline's program in a small classic BPF
// interpreter of its own (match.go), which allocates nothing and is two
// to three times faster than x/net/bpf's VM; its decisions equal
// "tcpdump -r FILE EXPR" on every shared capture (files_test.go). The
// compiler is hand-written: a tokenizer (lexer.go), a
// recursive-descent parser to an AST (parse.go, ast.go), code generation
// with labelled jumps (gen.go, prims.go, arith.go) and a small optimiser
// that threads jumps past tests earlier tests settled (opt.go). Its output
// follows libpcap's semantics closely enough that, for every expression in
// the supported subset, it accepts and rejects the same packets as
// tcpdump's own program (the package tests check this differentially).
//
// The subset:
//
//   - host, net (a.b.c.d/len, partial a.b.c, "net X mask M", IPv6 CIDR),
//     port, portrange lo-hi, with src, dst, "src or dst", "src and dst"
//   - protocols ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6 alone or as
//     qualifiers; "proto N", "ip proto N", "ip6 proto N", "proto \tcp";
//     "ether host/src/dst MAC", "ether proto N"
//   - vlan [ID]; len, greater N, less N
//   - relations over arithmetic: proto[expr], proto[expr:size] for ether
//     (the link header, on any link),
//     ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6; + - * / % & | ^ << >>,
//     unary minus; named constants (tcpflags, tcp-syn, icmptype, ...)
//   - and/or/not, && || !, parentheses; a bare value reuses the previous
//     primitive's qualifiers ("host a or b", "port 80 or 443")
//
// As in libpcap, "and" and "or" have equal precedence and associate to the
// left; "port" and "tcp" match IPv4 and IPv6; IPv4 port and tcp[] tests
// apply only to unfragmented packets and first fragments; tcp[] and udp[]
// index IPv4 only; each "vlan" moves the offsets of every primitive after
// it in the expression.
//
// Not supported (a SyntaxError names the position): host and service
// names (no DNS or /etc/services lookups), gateway, broadcast/multicast,
// mpls, pppoe, geneve/vxlan, protochain, 802.11, and the other link-layer
// and ATM keywords. Link types: Ethernet, Linux SLL and SLL2, raw IP
// (LINKTYPE_RAW and DLT 12/14, told apart by the version nibble; raw
// IPv4 and IPv6, which carry one version only) and BSD loopback (NULL,
// whose address family is matched in either byte order, and LOOP).
//
// Live and offline. Compile is for a live AF_PACKET socket, where the
// kernel has already moved the outer VLAN tag of a frame into skb
// metadata: "vlan [ID]" reads it with the VLAN ancillary loads and falls
// back to a tag still in the frame, and the offset of later primitives
// moves only in that fallback (kept at run time in scratch word M[0]), as
// libpcap does on Linux. Such programs use kernel extensions that
// x/net/bpf's VM cannot run. CompileOffline is for frames that keep their
// tags (capture files): each "vlan" tests the tag in the frame and moves
// later offsets by 4, as "tcpdump -r" does. Without "vlan" both return the
// same program. As with libpcap live, "len" and every other primitive see
// a frame whose outer tag the kernel stripped as untagged.
//
// Accepting paths return the snap length, so the kernel truncates the
// packet for the caller; rejecting paths return 0.
//
// NewEBPF turns a classic program into an eBPF socket filter (the legacy
// packet loads behave like classic BPF's, including ending the program
// with 0 when a load runs past the packet) that also counts packets seen,
// accepted and rejected in a per-CPU array map; attach it with
// SO_ATTACH_BPF. It needs CAP_BPF (or CAP_SYS_ADMIN); a caller that
// cannot load it can attach the classic program with SO_ATTACH_FILTER.
package filter
