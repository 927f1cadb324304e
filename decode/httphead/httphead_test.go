package httphead_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/decode/httphead"
	"github.com/netblame/netblame/internal/payloadtest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in                           string
		req                          bool
		method, uri, version, reason string
		code                         int
		host, ua                     string
		complete                     bool
	}{
		{"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n", true, "GET", "/a?b=c", "HTTP/1.1", "", 0, "example.com", "curl/8.5.0", true},
		{"POST /up HTTP/1.0\r\nhOsT:   h:8080  \r\nContent-Length: 3\r\n\r\nabc", true, "POST", "/up", "HTTP/1.0", "", 0, "h:8080", "", true},
		{"HTTP/1.1 404 Not Found\r\nServer: x\r\n", false, "", "", "HTTP/1.1", "Not Found", 404, "", "", false},
		{"HTTP/1.1 204\r\n\r\n", false, "", "", "HTTP/1.1", "", 204, "", "", true},
		{"GET /with space HTTP/1.1\nHost: lf-only\n\n", true, "GET", "/with space", "HTTP/1.1", "", 0, "lf-only", "", true},
	} {
		var h httphead.Head
		if err := h.Parse([]byte(tc.in)); err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if h.Request != tc.req || string(h.Method) != tc.method || string(h.URI) != tc.uri || string(h.Version) != tc.version ||
			string(h.Reason) != tc.reason || h.Code != tc.code || string(h.Host) != tc.host || string(h.UserAgent) != tc.ua || h.Complete != tc.complete {
			t.Errorf("%q: parsed %+v", tc.in, h)
		}
	}
	for _, bad := range []string{"", "GET / HTTP/1.1", "FOO / HTTP/1.1\r\n", "GET /\r\n", "HTTP/1.1 20x OK\r\n", "HTTP/2 200\r\n", "\x16\x03\x01\x02\x00\n", "SSH-2.0-OpenSSH_9.6\r\n"} {
		var h httphead.Head
		if err := h.Parse([]byte(bad)); !errors.Is(err, httphead.ErrNotHTTP) {
			t.Errorf("%q: %v, want ErrNotHTTP", bad, err)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n")
	other := []byte("\x17\x03\x03\x00\x20 not http at all\n")
	var h httphead.Head
	if n := testing.AllocsPerRun(1000, func() { _ = h.Parse(req); _ = h.Parse(other) }); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

func BenchmarkParse(b *testing.B) {
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	var h httphead.Head
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		_ = h.Parse(req)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nUser-Agent: x\r\n"))
	f.Add([]byte("PUT  HTTP/1.1\n:\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h httphead.Head
		if err := h.Parse(b); err == nil && len(h.Version) != 8 {
			t.Fatalf("version %q", h.Version)
		}
	})
}

// TestTshark: on every shared capture, each TCP segment that starts an
// HTTP/1.x message tshark reads at that same frame (headers within the
// segment) gives tshark's method, URI, status code, Host and User-Agent.
func TestTshark(t *testing.T) {
	tsharktest.Path(t)
	dir := sharedtest.Pcaps(t)
	compared, later := 0, 0
	for _, e := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, e.File)
		ours := heads(path)
		if len(ours) == 0 {
			continue
		}
		rows, err := tsharktest.Fields(path, tsharktest.Query{Filter: "http.request or http.response",
			Fields: []string{"frame.number", "http.request.method", "http.request.uri", "http.response.code", "http.host", "http.user_agent"}})
		if err != nil {
			t.Errorf("%s: %v", e.File, err)
			continue
		}
		for _, r := range rows {
			got, ok := ours[r[0]]
			if !ok {
				later++ // tshark put the headers together from several segments
				continue
			}
			compared++
			if want := r[1] + "|" + r[2] + "|" + r[3] + "|" + r[4] + "|" + r[5]; got != want {
				t.Errorf("%s frame %s:\n ours   %s\n tshark %s", e.File, r[0], got, want)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no HTTP message compared")
	}
	t.Logf("%d HTTP messages compared with tshark; %d more that tshark reassembled from several segments", compared, later)
}

// heads returns, by frame, the fields of every segment whose payload holds
// a whole HTTP/1.x header block.
func heads(path string) map[string]string {
	out := map[string]string{}
	var h httphead.Head
	_ = payloadtest.Each(path, func(frame uint64, dp *decode.Packet, payload []byte) {
		if !dp.IsTCP() || h.Parse(payload) != nil || !h.Complete {
			return
		}
		code := ""
		if !h.Request {
			code = strconv.Itoa(h.Code)
		}
		out[strconv.FormatUint(frame, 10)] = string(h.Method) + "|" + string(h.URI) + "|" + code + "|" + string(h.Host) + "|" + string(h.UserAgent)
	})
	return out
}
