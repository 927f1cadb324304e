package filter

// node is a boolean expression: and, or, not, or a primitive test.
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// leaf is a primitive test. emit writes its code; it captures what the
// parser knew at that point (qualifiers, link offsets).
type leaf struct {
	emit func(g *gen, t, f int)
}

func (*andNode) isNode() {}
func (*orNode) isNode()  {}
func (*notNode) isNode() {}
func (*leaf) isNode()    {}

// dir is a direction qualifier.
type dir uint8

const (
	dirEither dir = iota // "src or dst", the default
	dirSrc
	dirDst
	dirAnd // "src and dst"
)

// arith is an arithmetic expression in a relation.
type arith interface{ isArith() }

type numExpr struct{ v uint32 }
type lenExpr struct{}
type loadExpr struct {
	proto string // ether, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6
	idx   arith
	size  int
	st    linkState
}
type binExpr struct {
	op   string
	l, r arith
}
type negExpr struct{ x arith }

func (*numExpr) isArith()  {}
func (*lenExpr) isArith()  {}
func (*loadExpr) isArith() {}
func (*binExpr) isArith()  {}
func (*negExpr) isArith()  {}
