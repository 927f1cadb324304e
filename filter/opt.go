package filter

import (
	"golang.org/x/net/bpf"
)

// The optimiser removes work the straightforward code generation repeats:
// a primitive re-tests the ethertype or protocol that an earlier test on
// every path to it has already settled. It threads each conditional jump
// past tests whose outcome the facts on that edge decide, then drops
// unreachable code and loads of a value A already holds. The packet never
// changes while a filter runs, so a fact about a packet field, once
// established on every path to a point, holds there for good.

// desc names a value A can hold that facts can be about: an absolute
// packet load (size 1, 2 or 4 at off) or the packet length (size 0).
type desc struct {
	off  uint32
	size int
}

var noDesc = desc{size: -1}

// fact records the outcome of a test of a described value.
type fact struct {
	d       desc
	cond    bpf.JumpTest
	k       uint32
	outcome bool
}

func loadDesc(in bpf.Instruction) (desc, bool) {
	switch in := in.(type) {
	case bpf.LoadAbsolute:
		return desc{off: in.Off, size: in.Size}, true
	case bpf.LoadExtension:
		if in.Num == bpf.ExtLen {
			return desc{size: 0}, true
		}
	}
	return noDesc, false
}

// decide returns the outcome of "d cond k" if the facts settle it.
func decide(facts []fact, d desc, cond bpf.JumpTest, k uint32) (outcome, ok bool) {
	for _, f := range facts {
		if f.d != d {
			continue
		}
		if f.cond == cond && f.k == k {
			return f.outcome, true
		}
		if f.cond == bpf.JumpEqual && f.outcome {
			v := f.k
			switch cond {
			case bpf.JumpEqual:
				return v == k, true
			case bpf.JumpGreaterThan:
				return v > k, true
			case bpf.JumpGreaterOrEqual:
				return v >= k, true
			case bpf.JumpBitsSet:
				return v&k != 0, true
			}
		}
	}
	return false, false
}

func intersect(a, b []fact) []fact {
	var out []fact
	for _, f := range a {
		for _, g := range b {
			if f == g {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// aEffect reports whether a plain instruction reads A, and whether it
// sets A without reading it.
func aEffect(in bpf.Instruction) (reads, writes bool) {
	switch in := in.(type) {
	case bpf.LoadAbsolute, bpf.LoadIndirect, bpf.LoadExtension:
		return false, true
	case bpf.LoadConstant:
		return false, in.Dst == bpf.RegA
	case bpf.LoadScratch:
		return false, in.Dst == bpf.RegA
	case bpf.TXA:
		return false, true
	case bpf.RetConstant, bpf.LoadMemShift:
		return false, false
	case bpf.StoreScratch:
		return in.Src == bpf.RegA, false
	}
	return true, false // ALU, TAX, RetA and anything unknown: assume a read
}

// optimize rewrites g.pins in place.
func (g *gen) optimize() {
	g.thread()
	g.dropUnreachable()
	g.dropRedundantLoads()
	g.dropUnreachable()
}

// labelIndex maps each label to its pin index.
func (g *gen) labelIndex() []int {
	idx := make([]int, g.labels)
	for i := range idx {
		idx[i] = -1
	}
	for i, p := range g.pins {
		if p.kind == pLabel {
			idx[p.jt] = i
		}
	}
	return idx
}

// aLive computes, for each pin, whether A's value on entry may be read.
func (g *gen) aLive(lidx []int) []bool {
	live := make([]bool, len(g.pins)+1)
	for i := len(g.pins) - 1; i >= 0; i-- {
		p := g.pins[i]
		switch p.kind {
		case pLabel:
			live[i] = live[i+1]
		case pCond:
			live[i] = true
		case pJa:
			live[i] = live[lidx[p.jt]]
		default:
			r, w := aEffect(p.ins)
			live[i] = r || (!w && live[i+1])
			if _, ok := p.ins.(bpf.RetConstant); ok {
				live[i] = false
			}
		}
	}
	return live
}

// aDescBefore is what A holds just before pin i, looking back inside its
// basic block.
func (g *gen) aDescBefore(i int) desc {
	for j := i - 1; j >= 0; j-- {
		p := g.pins[j]
		switch p.kind {
		case pLabel, pJa:
			return noDesc
		case pCond:
			continue // does not change A
		}
		if _, w := aEffect(p.ins); w {
			d, _ := loadDesc(p.ins)
			return d
		}
		if r, _ := aEffect(p.ins); r {
			// ALU and friends change A; stores and TAX do not.
			switch p.ins.(type) {
			case bpf.StoreScratch, bpf.TAX:
				continue
			}
			return noDesc
		}
	}
	return noDesc
}

// factsIn computes the facts that hold on entry to every pin: the
// intersection over all incoming edges, each carrying its source's facts
// plus the outcome of its test.
func (g *gen) factsIn(lidx []int) [][]fact {
	in := make([][]fact, len(g.pins))
	seen := make([]bool, len(g.pins))
	merge := func(i int, fs []fact) {
		if i >= len(g.pins) {
			return
		}
		if !seen[i] {
			seen[i] = true
			in[i] = append([]fact(nil), fs...)
			return
		}
		in[i] = intersect(in[i], fs)
	}
	seen[0] = true
	for i, p := range g.pins {
		if !seen[i] {
			continue // unreachable so far; never entered
		}
		fs := in[i]
		switch p.kind {
		case pCond:
			d := g.aDescBefore(i)
			for _, br := range []struct {
				l   int
				out bool
			}{{p.jt, true}, {p.jf, false}} {
				e := fs
				if d != noDesc && !p.useX {
					e = append(append([]fact(nil), fs...), fact{d, p.cond, p.k, br.out})
				}
				merge(lidx[br.l], e)
			}
		case pJa:
			merge(lidx[p.jt], fs)
		case pLabel:
			merge(i+1, fs)
		default:
			switch p.ins.(type) {
			case bpf.RetConstant, bpf.RetA:
			default:
				merge(i+1, fs)
			}
		}
	}
	return in
}

// thread retargets each conditional jump past tests its edge facts decide.
func (g *gen) thread() {
	lidx := g.labelIndex()
	live := g.aLive(lidx)
	facts := g.factsIn(lidx)
	for i := range g.pins {
		p := &g.pins[i]
		if p.kind != pCond || p.useX {
			continue
		}
		d := g.aDescBefore(i)
		for _, br := range []*int{&p.jt, &p.jf} {
			outcome := br == &p.jt
			e := append([]fact(nil), facts[i]...)
			if d != noDesc {
				e = append(e, fact{d, p.cond, p.k, outcome})
			}
			cur, aDesc := *br, d
			for steps := 0; steps < len(g.pins); steps++ {
				j := lidx[cur] + 1
				for j < len(g.pins) && g.pins[j].kind == pLabel {
					j++
				}
				if j >= len(g.pins) {
					break
				}
				q := g.pins[j]
				skipLoad := false
				if q.kind == pPlain {
					// A load followed by a test on it.
					nd, ok := loadDesc(q.ins)
					k := j + 1
					for k < len(g.pins) && g.pins[k].kind == pLabel {
						k++
					}
					if !ok || k >= len(g.pins) || g.pins[k].kind != pCond || g.pins[k].useX {
						break
					}
					aDesc, q, skipLoad = nd, g.pins[k], true
				} else if q.kind != pCond || q.useX || aDesc == noDesc {
					break
				}
				o, ok := decide(e, aDesc, q.cond, q.k)
				if !ok {
					break
				}
				next := q.jf
				if o {
					next = q.jt
				}
				if skipLoad && live[lidx[next]] {
					break // the target would read the load we skip
				}
				e = append(e, fact{aDesc, q.cond, q.k, o})
				cur = next
				if skipLoad {
					aDesc = noDesc
				}
			}
			*br = cur
		}
	}
}

// dropUnreachable removes pins no path from the start reaches.
func (g *gen) dropUnreachable() {
	lidx := g.labelIndex()
	reach := make([]bool, len(g.pins)+1)
	reach[0] = true
	for i, p := range g.pins {
		if !reach[i] {
			continue
		}
		switch p.kind {
		case pCond:
			reach[lidx[p.jt]], reach[lidx[p.jf]] = true, true
		case pJa:
			reach[lidx[p.jt]] = true
		case pPlain:
			switch p.ins.(type) {
			case bpf.RetConstant, bpf.RetA:
				continue
			}
			reach[i+1] = true
		default:
			reach[i+1] = true
		}
	}
	out := g.pins[:0]
	for i, p := range g.pins {
		if reach[i] || p.kind == pLabel {
			out = append(out, p)
		}
	}
	g.pins = out
}

// dropRedundantLoads removes a load of the value every path into it has
// just left in A (typically the ethertype, re-read by the next test).
func (g *gen) dropRedundantLoads() {
	lidx := g.labelIndex()
	// descIn[i]: what A holds on entry to pin i, when all entries agree.
	descIn := make([]desc, len(g.pins)+1)
	set := make([]bool, len(g.pins)+1)
	merge := func(i int, d desc) {
		if !set[i] {
			set[i], descIn[i] = true, d
		} else if descIn[i] != d {
			descIn[i] = noDesc
		}
	}
	merge(0, noDesc)
	drop := make([]bool, len(g.pins))
	for i, p := range g.pins {
		if !set[i] {
			continue
		}
		d := descIn[i]
		switch p.kind {
		case pLabel:
			merge(i+1, d)
		case pCond:
			merge(lidx[p.jt], d)
			merge(lidx[p.jf], d)
		case pJa:
			merge(lidx[p.jt], d)
		default:
			switch p.ins.(type) {
			case bpf.RetConstant, bpf.RetA:
				continue
			}
			if nd, ok := loadDesc(p.ins); ok {
				if nd == d {
					drop[i] = true
				}
				merge(i+1, nd)
				continue
			}
			if _, w := aEffect(p.ins); w {
				merge(i+1, noDesc)
				continue
			}
			switch p.ins.(type) {
			case bpf.StoreScratch, bpf.TAX, bpf.LoadMemShift, bpf.LoadConstant, bpf.LoadScratch:
				merge(i+1, d) // A unchanged (the Load* here target X)
			default:
				merge(i+1, noDesc)
			}
		}
	}
	out := g.pins[:0]
	for i, p := range g.pins {
		if !drop[i] {
			out = append(out, p)
		}
	}
	g.pins = out
}
