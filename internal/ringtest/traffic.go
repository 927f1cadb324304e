package ringtest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// TCPBulk sends conns parallel uploads of bytes each from namespace nsFrom
// to a server at to:port in namespace nsTo that reads everything, and
// returns when every byte has been received and the connections are closed.
func TCPBulk(nsFrom, nsTo string, to netip.Addr, port, conns int, bytes int64) error {
	var ln *net.TCPListener
	if err := InNS(nsTo, func() (err error) {
		ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(port))))
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	wg.Add(conns)
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				errs <- err
				for ; i < conns; i++ {
					wg.Done()
				}
				return
			}
			go func() {
				defer wg.Done()
				defer c.Close()
				n, err := io.Copy(io.Discard, c)
				if err == nil && n != bytes {
					err = fmt.Errorf("ringtest: server got %d bytes, want %d", n, bytes)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}()
	clients := make([]net.Conn, conns)
	if err := InNS(nsFrom, func() error {
		for i := range clients {
			c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(to, uint16(port)).String(), 5*time.Second)
			if err != nil {
				return err
			}
			clients[i] = c
		}
		return nil
	}); err != nil {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
		ln.Close()
		return err
	}
	var cw sync.WaitGroup
	for _, c := range clients {
		cw.Add(1)
		go func(c net.Conn) {
			defer cw.Done()
			buf := make([]byte, 64<<10)
			for left := bytes; left > 0; {
				n := int64(len(buf))
				if n > left {
					n = left
				}
				if _, err := c.Write(buf[:n]); err != nil {
					errs <- err
					break
				}
				left -= n
			}
			c.Close()
		}(c)
	}
	cw.Wait()
	wg.Wait()
	close(errs)
	return <-errs
}

// UDPBurst sends count datagrams of size bytes (at least 8) from nsFrom to
// to:port; each payload starts with its 1-based number (big-endian uint64).
// A socket bound in nsTo absorbs them so no ICMP error comes back. pace
// sleeps that long every 100 datagrams (0: as fast as possible).
func UDPBurst(nsFrom, nsTo string, to netip.Addr, port, count, size int, pace time.Duration) error {
	var sink *net.UDPConn
	if err := InNS(nsTo, func() (err error) {
		sink, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(port))))
		return err
	}); err != nil {
		return err
	}
	defer sink.Close()
	go io.Copy(io.Discard, readerOf{sink})
	var c *net.UDPConn
	if err := InNS(nsFrom, func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(port))))
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	if size < 8 {
		size = 8
	}
	buf := make([]byte, size)
	for i := 1; i <= count; i++ {
		binary.BigEndian.PutUint64(buf, uint64(i))
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if pace > 0 && i%100 == 0 {
			time.Sleep(pace)
		}
	}
	time.Sleep(20 * time.Millisecond) // let the sink drain before it closes
	return nil
}

type readerOf struct{ c *net.UDPConn }

func (r readerOf) Read(b []byte) (int, error) { return r.c.Read(b) }

// UDPFlood sends datagrams of size bytes from nsFrom to to:port as fast as
// it can until stop is closed, and returns how many it sent.
func UDPFlood(nsFrom string, to netip.Addr, port, size int, stop <-chan struct{}) (int, error) {
	var c *net.UDPConn
	if err := InNS(nsFrom, func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(port))))
		return err
	}); err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, max(size, 8))
	for n := 1; ; n++ {
		select {
		case <-stop:
			return n - 1, nil
		default:
		}
		binary.BigEndian.PutUint64(buf, uint64(n))
		c.Write(buf) // ICMP errors from the other end may fail a write; keep going
	}
}
