package main

import (
	"bufio"
	"errors"
	"io"

	"github.com/netblame/netblame/dfilter"
)

// detailView prints -V: each packet shown as a tree of its layers and
// fields (dfilter.Detail), a blank line after each, written as it goes.
type detailView struct {
	bw   *bufio.Writer
	tree *dfilter.Detail
	buf  []byte
	n    int // packets shown
}

func newDetailView(w io.Writer) *detailView {
	return &detailView{bw: bufio.NewWriterSize(w, 64<<10), tree: dfilter.NewDetail()}
}

func (v *detailView) packet(pk *packetCtx) error {
	v.n++
	v.buf = append(v.tree.Append(v.buf[:0], pk.dp), '\n')
	_, err := v.bw.Write(v.buf)
	return err
}

func (v *detailView) finish(*fileCtx) error {
	if v.n == 0 {
		v.bw.WriteString("0 packets match\n")
	}
	return v.bw.Flush()
}

// errCountReached ends a file's reading once -c packets were shown.
var errCountReached = errors.New("-c: count reached")
