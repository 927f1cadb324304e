package track

// SetReaderShare sets the reader's share of the shards (negative: 1/N)
// and returns the previous one.
func SetReaderShare(s float64) float64 {
	old := readerShare
	readerShare = s
	return old
}
