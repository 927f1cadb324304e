package capfile

import "fmt"

// FormatError reports malformed capture-file input. Every packet before
// the bad record was already returned by Next.
type FormatError struct {
	// Offset is the byte offset of the bad record, block or header in the
	// (decompressed) capture stream.
	Offset int64
	// Frame is the number of frames read before the error (as Wireshark
	// counts them, see Reader.Frames): the last good frame's number, 0
	// when there was none.
	Frame uint64
	// Msg says what was wrong.
	Msg string

	what string // "pcap: record", "pcapng: block", ...; set by the reader
	err  error  // underlying decompression error, if any
}

// Unwrap returns the decompressor's error behind a corrupt-stream error.
func (e *FormatError) Unwrap() error { return e.err }

func (e *FormatError) Error() string {
	what := e.what
	if what == "" {
		what = "capfile: input"
	}
	if e.Frame > 0 {
		return fmt.Sprintf("%s at offset %d (after frame %d): %s", what, e.Offset, e.Frame, e.Msg)
	}
	return fmt.Sprintf("%s at offset %d: %s", what, e.Offset, e.Msg)
}

// What the error is about, as the start of its message.
const (
	whatFile        = "capfile: file header"
	whatPcapHeader  = "pcap: file header"
	whatPcapRecord  = "pcap: record"
	whatPcapngBlock = "pcapng: block"
	whatStream      = "capfile: decompressed stream"
)

func formatErr(what string, off int64, frame uint64, format string, args ...any) *FormatError {
	return &FormatError{Offset: off, Frame: frame, Msg: fmt.Sprintf(format, args...), what: what}
}
