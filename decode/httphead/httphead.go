// Package httphead reads the start of an HTTP/1.x message from a TCP
// segment's payload in place and without allocating: a request's method,
// URI and version, or a response's version, status code and reason, and
// the Host and User-Agent headers: what tshark's http.request.method,
// http.request.uri, http.response.code, http.host and http.user_agent
// show.
//
// It reads one segment: headers continued in a later segment are not
// seen, and Head.Complete says whether the header block ended in this one.
package httphead

import (
	"bytes"
	"errors"
)

// Head is the start of one HTTP/1.x message.
type Head struct {
	Request bool // a request; otherwise a response
	// Request line.
	Method, URI []byte
	// Version is "HTTP/1.1" and the like, of either kind.
	Version []byte
	// Status line.
	Code   int
	Reason []byte
	// Host and UserAgent are the headers' values, nil when absent (or past
	// the segment).
	Host, UserAgent []byte
	// Complete: the header block ended (an empty line) within the bytes.
	Complete bool
}

// ErrNotHTTP says the payload does not start with an HTTP/1.x request or
// status line; static, so other traffic costs no allocation.
var ErrNotHTTP = errors.New("httphead: not the start of an HTTP/1.x message")

// methods are the request methods recognised (RFC 9110 and PATCH, and the
// WebDAV ones tshark knows that clients commonly send).
var methods = [][]byte{
	[]byte("GET"), []byte("POST"), []byte("HEAD"), []byte("PUT"), []byte("DELETE"), []byte("OPTIONS"),
	[]byte("CONNECT"), []byte("TRACE"), []byte("PATCH"), []byte("PROPFIND"), []byte("PROPPATCH"),
	[]byte("MKCOL"), []byte("COPY"), []byte("MOVE"), []byte("LOCK"), []byte("UNLOCK"),
}

var (
	httpPrefix = []byte("HTTP/")
	hostName   = []byte("host")
	uaName     = []byte("user-agent")
)

// Parse reads the message start at the beginning of payload into h.
func (h *Head) Parse(payload []byte) error {
	*h = Head{}
	line, rest, ok := cutLine(payload)
	if !ok {
		return ErrNotHTTP // not even the first line in this segment
	}
	if bytes.HasPrefix(line, httpPrefix) {
		// HTTP/1.1 200 OK
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 || sp+4 > len(line) || !isVersion(line[:sp]) {
			return ErrNotHTTP
		}
		code := 0
		for _, c := range line[sp+1 : sp+4] {
			if c < '0' || c > '9' {
				return ErrNotHTTP
			}
			code = code*10 + int(c-'0')
		}
		if sp+4 < len(line) && line[sp+4] != ' ' {
			return ErrNotHTTP
		}
		h.Version, h.Code = line[:sp], code
		if sp+5 <= len(line) {
			h.Reason = line[sp+5:]
		}
	} else {
		// GET /path HTTP/1.1
		sp := bytes.IndexByte(line, ' ')
		last := bytes.LastIndexByte(line, ' ')
		if sp <= 0 || last <= sp || !isMethod(line[:sp]) || !isVersion(line[last+1:]) {
			return ErrNotHTTP
		}
		h.Request, h.Method, h.URI, h.Version = true, line[:sp], line[sp+1:last], line[last+1:]
	}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil // the headers go on past the segment
		}
		if len(line) == 0 {
			h.Complete = true
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // not a header; tshark shows it as such and goes on
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case h.Host == nil && bytes.EqualFold(name, hostName):
			h.Host = value
		case h.UserAgent == nil && bytes.EqualFold(name, uaName):
			h.UserAgent = value
		}
	}
}

// cutLine splits b at its first line end (CRLF, or a bare LF as tshark
// accepts), reporting whether there was one.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

func isMethod(m []byte) bool {
	for _, k := range methods {
		if bytes.Equal(m, k) {
			return true
		}
	}
	return false
}

// isVersion accepts HTTP/d.d.
func isVersion(v []byte) bool {
	return len(v) == 8 && bytes.HasPrefix(v, httpPrefix) && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
