package capfile

// Format is a capture-file format.
type Format uint8

// Capture-file formats.
const (
	FormatPCAP   Format = iota + 1 // classic libpcap format
	FormatPCAPNG                   // pcap next generation
)

// String returns "pcap" or "pcapng".
func (f Format) String() string {
	switch f {
	case FormatPCAP:
		return "pcap"
	case FormatPCAPNG:
		return "pcapng"
	}
	return "unknown"
}

// Compression is how a capture file's bytes are compressed.
type Compression uint8

// Compressions the reader detects and the writer produces.
const (
	CompressNone Compression = iota
	CompressGzip
	CompressZstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressGzip:
		return "gzip"
	case CompressZstd:
		return "zstd"
	}
	return "unknown"
}
