package report

import (
	"math"
	"strconv"
	"testing"
)

// TestTicksAreRoundAndInRange checks the axis ticks over ranges of every
// size: 1, 2 or 5 times a power of ten apart, inside the range, a handful
// of them, labelled with as many decimals as show them, and no more.
func TestTicksAreRoundAndInRange(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {0, 0.125}, {0.0113, 0.1253}, {0, 250000}, {-3, 7}, {1e-6, 9e-6}, {12.5, 12.75}, {0, 88}, {-0.0012, 0.1262}, {-0.3, 0.3}} {
		lo, hi := r[0], r[1]
		ts, dec := ticks(lo, hi, 6)
		if len(ts) < 3 || len(ts) > 13 {
			t.Errorf("[%v, %v]: %d ticks %v", lo, hi, len(ts), ts)
			continue
		}
		step := ts[1] - ts[0]
		mant := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9))
		if math.Abs(mant-1) > 1e-6 && math.Abs(mant-2) > 1e-6 && math.Abs(mant-5) > 1e-6 {
			t.Errorf("[%v, %v]: step %v is not 1, 2 or 5 times a power of ten", lo, hi, step)
		}
		for _, v := range ts {
			if v < lo-step*1e-9 || v > hi+step*1e-9 {
				t.Errorf("[%v, %v]: tick %v outside", lo, hi, v)
			}
			if l := strconv.FormatFloat(v, 'f', dec, 64); l[0] == '-' && math.Abs(v) < step/1000 {
				t.Errorf("[%v, %v]: zero labelled %q", lo, hi, l)
			}
		}
		// dec decimals show every tick exactly; one fewer would not.
		exact := func(dec int) bool {
			for _, v := range ts {
				back, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', dec, 64), 64)
				if math.Abs(back-v) > step/1000 {
					return false
				}
			}
			return true
		}
		if !exact(dec) || dec > 0 && exact(dec-1) {
			t.Errorf("[%v, %v]: %d decimals for the ticks %v", lo, hi, dec, ts)
		}
	}
}
