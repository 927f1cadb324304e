package filter

import (
	"fmt"
	"strings"
)

// SyntaxError reports an expression the compiler cannot accept: malformed,
// or outside the supported subset. Pos is a byte offset into Expr.
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

// Error shows the message, then the expression with a caret under Pos.
func (e *SyntaxError) Error() string {
	pos := e.Pos
	if pos < 0 {
		pos = 0
	}
	if pos > len(e.Expr) {
		pos = len(e.Expr)
	}
	// Tabs and newlines in the expression would misalign the caret.
	line := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, e.Expr)
	return fmt.Sprintf("filter: %s at position %d\n  %s\n  %s^", e.Msg, e.Pos, line, strings.Repeat(" ", pos))
}
