// Package tlshello reads the first TLS handshake message of a TCP
// segment's payload in place and without allocating: its type, and for a
// ClientHello the server name (SNI) and the ALPN protocols offered: what
// tshark's tls.handshake.type, tls.handshake.extensions_server_name and
// tls.handshake.extensions_alpn_str show.
//
// It does not reassemble: a ClientHello longer than the segment (large
// key shares make them 1,500 bytes and more) is read as far as the segment
// goes, and Hello.Partial says so; a server name past the cut is not seen.
package tlshello

import (
	"encoding/binary"
	"errors"
)

// Handshake message types.
const (
	TypeClientHello = 1
	TypeServerHello = 2
)

// MaxALPN is how many ALPN protocols a Hello keeps.
const MaxALPN = 8

// Hello is the first handshake message of a record.
type Hello struct {
	RecordVersion uint16 // the record layer's version
	Type          uint8  // handshake message type
	Version       uint16 // a ClientHello's or ServerHello's legacy_version
	// ServerName is the ClientHello's SNI host name, nil when absent.
	ServerName []byte
	// ALPN holds the first NALPN protocols the ClientHello offers.
	ALPN  [MaxALPN][]byte
	NALPN int
	// Partial: the message continues past the bytes given (it spans
	// segments); what lies beyond was not read.
	Partial bool
}

// Errors; static, so a segment that is not TLS costs no allocation.
var (
	ErrNotHandshake = errors.New("tlshello: not a TLS handshake record")
	ErrMalformed    = errors.New("tlshello: malformed handshake message")
)

// Parse reads the handshake record at the start of payload into h. It
// returns ErrNotHandshake for anything else (application data, other
// protocols), and ErrMalformed when lengths contradict each other within
// the bytes given.
func (h *Hello) Parse(payload []byte) error {
	*h = Hello{}
	// Record: type 22, version 3.x, length.
	if len(payload) < 5+4 || payload[0] != 22 || payload[1] != 3 || payload[2] > 4 {
		return ErrNotHandshake
	}
	h.RecordVersion = binary.BigEndian.Uint16(payload[1:])
	recLen := int(binary.BigEndian.Uint16(payload[3:]))
	rec := payload[5:]
	if len(rec) < recLen {
		h.Partial = true
	} else {
		rec = rec[:recLen]
	}
	if len(rec) < 4 {
		return ErrMalformed // a record too short for a handshake header
	}
	h.Type = rec[0]
	msgLen := int(rec[1])<<16 | int(binary.BigEndian.Uint16(rec[2:]))
	body := rec[4:]
	if len(body) < msgLen {
		h.Partial = true
	} else {
		body = body[:msgLen]
	}
	if h.Type != TypeClientHello && h.Type != TypeServerHello {
		return nil
	}
	if len(body) < 2 {
		return h.cut()
	}
	h.Version = binary.BigEndian.Uint16(body)
	if h.Type != TypeClientHello {
		return nil
	}
	r := reader{b: body[2:]}
	r.skip(32)        // random
	r.skip(r.u8())    // session id
	r.skip(r.u16())   // cipher suites
	r.skip(r.u8())    // compression methods
	extLen := r.u16() // extensions
	if r.bad {
		return h.cut()
	}
	exts := r.take(extLen)
	if r.bad {
		exts, r.bad = r.b, false // read the extensions the segment holds
		if !h.Partial {
			return ErrMalformed
		}
	}
	e := reader{b: exts}
	for len(e.b) >= 4 {
		typ, n := e.u16(), e.u16()
		data := e.take(n)
		if e.bad {
			return h.cut()
		}
		switch typ {
		case 0: // server_name: a list of (type, name); host_name is type 0
			l := reader{b: data}
			l.b = l.take(l.u16())
			for len(l.b) >= 3 && !l.bad {
				nt, name := l.u8(), l.take(l.u16())
				if !l.bad && nt == 0 && h.ServerName == nil {
					h.ServerName = name
				}
			}
		case 16: // ALPN: a list of length-prefixed protocol names
			l := reader{b: data}
			l.b = l.take(l.u16())
			for len(l.b) > 0 && !l.bad {
				p := l.take(l.u8())
				if !l.bad && h.NALPN < MaxALPN {
					h.ALPN[h.NALPN] = p
					h.NALPN++
				}
			}
		}
	}
	return nil
}

// cut reports a message that ends early: expected when it spans
// segments, malformed otherwise.
func (h *Hello) cut() error {
	if h.Partial {
		return nil
	}
	return ErrMalformed
}

// reader takes big-endian fields off a byte slice; a read past the end
// sets bad and yields zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return int(v)
}

func (r *reader) take(n int) []byte {
	if len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) skip(n int) { r.take(n) }
