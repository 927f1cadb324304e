package dns_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/decode/dns"
	"github.com/netblame/netblame/internal/payloadtest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// dnsFields are the tshark fields compared, in order after frame.number.
var dnsFields = []string{"dns.flags.response", "dns.flags.rcode", "dns.qry.name", "dns.qry.type", "dns.a", "dns.aaaa"}

// TestTsharkFields: on every shared capture holding DNS over UDP, each
// message's response flag, rcode, first query name and type, and every A
// and AAAA address (all sections) equal tshark's, frame by frame.
func TestTsharkFields(t *testing.T) {
	tsharktest.Path(t)
	dir := sharedtest.Pcaps(t)
	files, frames := 0, 0
	for _, e := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, e.File)
		ours := ourFields(path)
		if len(ours) == 0 {
			continue
		}
		files++
		rows, err := tsharktest.Fields(path, tsharktest.Query{Filter: "dns && udp", All: true,
			Fields: append([]string{"frame.number"}, dnsFields...)})
		if err != nil {
			t.Errorf("%s: %v", e.File, err)
			continue
		}
		theirs := map[string]string{}
		for _, r := range rows {
			theirs[r[0]] = strings.Join(normalize(r[1:]), "|")
		}
		for frame, got := range ours {
			want, ok := theirs[frame]
			if !ok {
				continue // not DNS to tshark (another protocol on the port)
			}
			frames++
			if got != want {
				t.Errorf("%s frame %s:\n ours   %s\n tshark %s  (%s)", e.File, frame, got, want, strings.Join(dnsFields, "|"))
			}
		}
		for frame := range theirs {
			if _, ok := ours[frame]; !ok {
				t.Errorf("%s frame %s: DNS to tshark, not parsed here", e.File, frame)
			}
		}
	}
	if frames == 0 {
		t.Fatal("no DNS message compared")
	}
	t.Logf("%d DNS messages compared with tshark in %d captures", frames, files)
}

// ourFields parses every UDP datagram on a DNS port and returns, by frame
// number, the compared fields joined as normalize joins tshark's.
func ourFields(path string) map[string]string {
	out := map[string]string{}
	var m dns.Message
	_ = payloadtest.Each(path, func(frame uint64, dp *decode.Packet, payload []byte) {
		if !dp.IsUDP() || !(dns.IsPort(dp.SrcPort) || dns.IsPort(dp.DstPort)) {
			return
		}
		if m.Parse(payload) != nil && !m.HasQuestion {
			return
		}
		resp, rcode := "0", "" // tshark shows the rcode of responses only
		if m.Response() {
			resp, rcode = "1", strconv.Itoa(int(m.RCode()))
		}
		var name, typ string
		if m.HasQuestion {
			name, typ = string(m.Question.Name), strconv.Itoa(int(m.Question.Type))
		}
		var a, aaaa []string
		for i := range m.NRecords {
			if addr, ok := m.Records[i].Addr(); ok {
				if addr.Is4() {
					a = append(a, addr.String())
				} else {
					aaaa = append(aaaa, addr.String())
				}
			}
		}
		vals := []string{resp, rcode, name, typ, strings.Join(a, ","), strings.Join(aaaa, ",")}
		out[strconv.FormatUint(frame, 10)] = strings.Join(normalize(vals), "|")
	})
	return out
}

// normalize makes tshark's and our spellings comparable: booleans as 1/0,
// and only the first query name and type (tshark lists every question).
func normalize(v []string) []string {
	out := append([]string(nil), v...)
	switch out[0] {
	case "True":
		out[0] = "1"
	case "False":
		out[0] = "0"
	}
	for _, i := range []int{2, 3} {
		out[i], _, _ = strings.Cut(out[i], ",")
	}
	return out
}
