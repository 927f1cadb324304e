package capfile

import "math/bits"

// tsConv turns a pcapng interface's timestamp units into nanoseconds.
type tsConv struct {
	mul   uint64 // units are 1e9/mul ns; 0 when not used
	div   uint64 // units are 1/div ns (resolution finer than 1 ns)
	shift uint   // units are 2^-shift s, when mul and div are 0
	off   int64  // if_tsoffset in nanoseconds
}

// set configures c from an if_tsresol value and an if_tsoffset in
// seconds. It reports false for resolutions the reader cannot represent.
func (c *tsConv) set(resol uint8, offsetSec int64) bool {
	*c = tsConv{off: offsetSec * 1e9}
	if resol&0x80 != 0 {
		n := uint(resol & 0x7f)
		if n > 63 {
			return false
		}
		if n == 0 {
			c.mul = 1e9
		}
		c.shift = n
		return true
	}
	e := uint(resol)
	switch {
	case e <= 9:
		c.mul = pow10(9 - e)
	case e <= 9+19:
		c.div = pow10(e - 9)
	default:
		return false
	}
	return true
}

func pow10(n uint) uint64 {
	v := uint64(1)
	for range n {
		v *= 10
	}
	return v
}

// nanos converts a raw 64-bit timestamp. Fractions of a nanosecond are
// truncated.
func (c *tsConv) nanos(t uint64) int64 {
	if c.mul != 0 {
		return int64(t*c.mul) + c.off
	}
	if c.div != 0 {
		return int64(t/c.div) + c.off
	}
	sec := t >> c.shift
	frac := t & (1<<c.shift - 1)
	hi, lo := bits.Mul64(frac, 1e9)
	ns := lo>>c.shift | hi<<(64-c.shift)
	return int64(sec*1e9+ns) + c.off
}
