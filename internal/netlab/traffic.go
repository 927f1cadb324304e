package netlab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// The lab's application protocol: the client opens with an 8-byte header
// ("NLAB" and the connection index), so the server knows which Conn spec
// to follow; after that each side moves the bytes the spec says.
const hdrMagic = "NLAB"

const stallRcvBuf = 16 << 10

// stallAfter is where a stall starts for c.
func (c *Conn) stallAfter() int {
	if c.StallAfter > 0 {
		return c.StallAfter
	}
	return c.Bytes / 4
}

// serverRcvBuf is the listener's SO_RCVBUF for s (0 = default).
func (s *Scenario) serverRcvBuf() int {
	if s.ServerRcvBuf > 0 {
		return s.ServerRcvBuf
	}
	for _, c := range s.Conns {
		if c.ServerStallMs > 0 {
			return stallRcvBuf
		}
	}
	return 0
}

// clientRcvBuf is conn c's SO_RCVBUF (0 = default).
func (s *Scenario) clientRcvBuf(c *Conn) int {
	if s.ClientRcvBuf > 0 {
		return s.ClientRcvBuf
	}
	if c.ClientStallMs > 0 {
		return stallRcvBuf
	}
	return 0
}

// setRcvBuf returns a net.Dialer/ListenConfig Control function setting
// SO_RCVBUF before connect/listen, so the window scale fits it.
func setRcvBuf(n int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if n > 0 {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// pattern is the payload both sides send: a repeating byte ramp.
var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

func writeN(c net.Conn, n int) (int, error) {
	done := 0
	for done < n {
		k, err := c.Write(pattern[:min(len(pattern), n-done)])
		done += k
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func readN(c net.Conn, n int) (int, error) {
	buf := make([]byte, 32<<10)
	done := 0
	for done < n {
		k, err := c.Read(buf[:min(len(buf), n-done)])
		done += k
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// drain reads until EOF (the peer closed), returning the bytes read.
func drain(c net.Conn) int64 {
	n, _ := io.Copy(io.Discard, c)
	return n
}

// serverRole accepts len(Conns) connections and serves each per its spec,
// then writes its results.
func serverRole(cfg *roleConfig) error {
	s := &cfg.Scenario
	lc := net.ListenConfig{Control: setRcvBuf(s.serverRcvBuf())}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	results := make([]EndResult, len(s.Conns))
	for i := range results {
		results[i].ID = -1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; ln.Close() }()
	for range s.Conns {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := serveConn(s, c)
			if r.ID >= 0 && r.ID < len(results) {
				mu.Lock()
				results[r.ID] = r
				mu.Unlock()
			}
		}()
	}
	ln.Close()
	wg.Wait()
	return writeJSON(cfg.Out, results)
}

func serveConn(s *Scenario, c net.Conn) (r EndResult) {
	defer c.Close()
	r = EndResult{ID: -1, Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String(), StartNs: time.Now().UnixNano()}
	defer func() { r.EndNs = time.Now().UnixNano() }()
	fail := func(err error) EndResult {
		if err != nil && r.Err == "" {
			r.Err = err.Error()
		}
		return r
	}
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || string(hdr[:4]) != hdrMagic {
		return fail(fmt.Errorf("bad header: %v", err))
	}
	r.BytesIn = 8
	id := int(binary.BigEndian.Uint32(hdr[4:]))
	if id >= len(s.Conns) {
		return fail(fmt.Errorf("conn index %d out of range", id))
	}
	r.ID = id
	spec := s.Conns[id]
	in := func(n int) error { k, err := readN(c, n); r.BytesIn += int64(k); return err }
	out := func(n int) error { k, err := writeN(c, n); r.BytesOut += int64(k); return err }
	switch spec.Mode {
	case "bulk":
		time.Sleep(time.Duration(spec.ServerThinkMs) * time.Millisecond)
		if err := out(spec.Bytes); err != nil {
			return fail(err)
		}
	case "upload":
		first := spec.Bytes
		if spec.ServerStallMs > 0 {
			first = min(spec.stallAfter(), spec.Bytes)
		}
		if err := in(first); err != nil {
			return fail(err)
		}
		time.Sleep(time.Duration(spec.ServerStallMs) * time.Millisecond)
		if err := in(spec.Bytes - first); err != nil {
			return fail(err)
		}
		time.Sleep(time.Duration(spec.ServerThinkMs) * time.Millisecond)
		if err := out(2); err != nil {
			return fail(err)
		}
	case "rr":
		for range max(spec.Rounds, 1) {
			if err := in(spec.ReqBytes); err != nil {
				return fail(err)
			}
			time.Sleep(time.Duration(spec.ServerThinkMs) * time.Millisecond)
			if err := out(spec.Bytes); err != nil {
				return fail(err)
			}
		}
	default:
		return fail(fmt.Errorf("unknown mode %q", spec.Mode))
	}
	// Wait for the client to close first, so TIME_WAIT and the final FIN
	// exchange are the same in every run.
	r.BytesIn += drain(c)
	return r
}

// clientRole runs every Conn (concurrently, each after its StartMs) and
// writes the results.
func clientRole(cfg *roleConfig) error {
	s := &cfg.Scenario
	results := make([]EndResult, len(s.Conns))
	var wg sync.WaitGroup
	t0 := time.Now()
	fmt.Println("ready")
	for i := range s.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(t0.Add(time.Duration(s.Conns[i].StartMs) * time.Millisecond)))
			results[i] = clientConn(cfg, i)
		}()
	}
	wg.Wait()
	if err := writeJSON(cfg.Out, results); err != nil {
		return err
	}
	for _, r := range results {
		if r.Err != "" && !s.Conns[r.ID].ClientRST {
			return fmt.Errorf("conn %d: %s", r.ID, r.Err)
		}
	}
	return nil
}

func clientConn(cfg *roleConfig, id int) (r EndResult) {
	s := &cfg.Scenario
	spec := s.Conns[id]
	r = EndResult{ID: id, StartNs: time.Now().UnixNano()}
	defer func() { r.EndNs = time.Now().UnixNano() }()
	fail := func(err error) EndResult {
		if err != nil && r.Err == "" {
			r.Err = err.Error()
		}
		return r
	}
	local := &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr), Port: clientPort + id}
	d := net.Dialer{LocalAddr: local, Control: setRcvBuf(s.clientRcvBuf(&spec)), Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", cfg.Target)
	if err != nil {
		return fail(err)
	}
	r.ConnectMs = float64(time.Now().UnixNano()-r.StartNs) / 1e6
	r.Local, r.Remote = c.LocalAddr().String(), c.RemoteAddr().String()
	defer c.Close()
	in := func(n int) error { k, err := readN(c, n); r.BytesIn += int64(k); return err }
	out := func(n int) error { k, err := writeN(c, n); r.BytesOut += int64(k); return err }
	var hdr [8]byte
	copy(hdr[:], hdrMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(id))
	if _, err := c.Write(hdr[:]); err != nil {
		return fail(err)
	}
	r.BytesOut = 8
	switch spec.Mode {
	case "bulk":
		first := spec.Bytes
		switch {
		case spec.ClientRST:
			first = spec.Bytes / 2
		case spec.ClientStallMs > 0:
			first = min(spec.stallAfter(), spec.Bytes)
		}
		if err := in(first); err != nil {
			return fail(err)
		}
		if spec.ClientRST {
			// SO_LINGER 0: close sends RST instead of FIN, with unread
			// data still arriving.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return fail(errors.New("aborted with RST (as the scenario asks)"))
		}
		time.Sleep(time.Duration(spec.ClientStallMs) * time.Millisecond)
		if err := in(spec.Bytes - first); err != nil {
			return fail(err)
		}
	case "upload":
		if err := out(spec.Bytes); err != nil {
			return fail(err)
		}
		if err := in(2); err != nil {
			return fail(err)
		}
	case "rr":
		for range max(spec.Rounds, 1) {
			if err := out(spec.ReqBytes); err != nil {
				return fail(err)
			}
			if err := in(spec.Bytes); err != nil {
				return fail(err)
			}
		}
	default:
		return fail(fmt.Errorf("unknown mode %q", spec.Mode))
	}
	return r
}
