// Package capfile reads and writes capture files: classic pcap (both byte
// orders, microsecond and nanosecond resolution, the modified "Kuznetzov"
// variant) and pcapng (several sections, many interfaces, enhanced, simple
// and obsolete packet blocks), each optionally compressed with gzip or zstd,
// which the reader detects from magic bytes, not from the file name.
//
// It is for streaming packets at page-cache speed into netblame's decoders:
// Reader.Next fills a caller-owned Packet whose Data is a view into one
// reused buffer, with no allocation per packet, and frame numbers counted
// from 1 as Wireshark counts them. Bad input ends the stream with a
// *FormatError naming the byte offset, after every good packet before it.
//
// Writer writes one pcap or pcapng file; RotatingWriter writes a series of
// them, starting a new numbered file by size or by packet time (as tcpdump
// -C and -G do), for live capture.
//
// It is not a general pcapng toolkit: name resolution, interface statistics,
// custom and decryption-secrets blocks and packet options (comments, flags,
// drop counts) are skipped, not exposed; the writer emits one interface per
// file. It does not decode packet contents (see package decode).
package capfile
