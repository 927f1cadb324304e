package main

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/sharedtest"
)

// flowtableTestVar finds the value of the package-level variable name in
// flowtable's test files, or nil when none declares it.
func flowtableTestVar(t *testing.T, name string) (ast.Expr, string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "flowtable", "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", file, err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name == name && i < len(vs.Values) {
						return vs.Values[i], file
					}
				}
			}
		}
	}
	return nil, ""
}

// flowtableKnownMismatches reads the cells ("file\tevent") that flowtable's
// own differential test lists in its knownMismatch map, so that the CLI
// test excuses exactly the same cells without keeping a copy of the list.
func flowtableKnownMismatches(t *testing.T) map[string]bool {
	t.Helper()
	v, file := flowtableTestVar(t, "knownMismatch")
	if v == nil {
		t.Log("flowtable's tests declare no knownMismatch list: every cell must agree")
		return nil
	}
	lit, ok := v.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: knownMismatch is not a map literal; update this test", file)
	}
	cells := map[string]bool{}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			t.Fatalf("%s: knownMismatch element %T; update this test", file, el)
		}
		bl, ok := kv.Key.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			t.Fatalf("%s: knownMismatch key %T is not a string literal; update this test", file, kv.Key)
		}
		k, err := strconv.Unquote(bl.Value)
		if err != nil {
			t.Fatal(err)
		}
		cells[k] = true
	}
	return cells
}

// flowtableComparedEvents reads the events flowtable's differential test
// compares with tshark (its diffEvents list of Event constants), or nil
// when it declares none (then every Wireshark event is compared).
func flowtableComparedEvents(t *testing.T) map[flowtable.Event]bool {
	t.Helper()
	v, file := flowtableTestVar(t, "diffEvents")
	if v == nil {
		return nil
	}
	lit, ok := v.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: diffEvents is not a slice literal; update this test", file)
	}
	// The constant names are the events' names in CamelCase.
	byConst := map[string]flowtable.Event{}
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		byConst[strings.ReplaceAll(strings.Title(strings.ReplaceAll(e.String(), "_", " ")), " ", "")] = e //nolint:staticcheck // ASCII names
	}
	out := map[flowtable.Event]bool{}
	for _, el := range lit.Elts {
		id, ok := el.(*ast.Ident)
		e, known := byConst[fmt.Sprint(id)]
		if !ok || !known {
			t.Fatalf("%s: diffEvents element %v is not an Event constant; update this test", file, el)
		}
		out[e] = true
	}
	return out
}

// TestStatsMatchTsharkCounts runs `analyze --stats --format json` on every
// capture of TSHARK_COUNTS.tsv and checks the JSON shape and each event
// count against Wireshark's (the number of frames its display filter
// tcp.analysis.<event> matches), excusing only the cells flowtable's own
// differential test lists as known mismatches.
func TestStatsMatchTsharkCounts(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	known := flowtableKnownMismatches(t)
	compared := flowtableComparedEvents(t)
	f, err := os.Open(filepath.Join(dir, "TSHARK_COUNTS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var head []string
	cells, agree, excused := 0, 0, 0
	for sc.Scan() {
		rec := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = rec
			continue
		}
		file := rec[0]
		out, errOut, code := runCLI(t, "analyze", "--stats", "--format", "json", filepath.Join(dir, file))
		if code != exitOK && code != exitInput {
			t.Fatalf("%s: exit %d: %s", file, code, errOut)
		}
		rows := jsonLines(t, out)
		if len(rows) != 1 {
			t.Fatalf("%s: want one JSON object, got %q", file, out)
		}
		obj := rows[0]
		for _, k := range []string{"packets", "tcp_flows", "udp_flows", "events"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: no %q in %v", file, k, obj)
			}
		}
		events, ok := obj["events"].(map[string]any)
		if !ok {
			t.Fatalf("%s: events is %T, want an object", file, obj["events"])
		}
		for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
			if _, ok := events[e.String()]; !ok {
				t.Errorf("%s: events has no %q", file, e)
			}
		}
		for i, col := range head {
			ev, ok := flowtable.ParseEvent(col)
			if !ok || !ev.Wireshark() || i >= len(rec) {
				continue
			}
			want, got := rec[i], str(events, col)
			if compared != nil && !compared[ev] {
				if got != want {
					t.Logf("%s %s: netblame %s, tshark %s (not compared: flowtable's test does not compare %s)", file, col, got, want, col)
				}
				continue
			}
			cells++
			switch cell := file + "\t" + col; {
			case got == want:
				agree++
			case known[cell]:
				excused++
				t.Logf("%s %s: netblame %s, tshark %s (flowtable lists it as a known mismatch)", file, col, got, want)
			default:
				t.Errorf("%s %s: netblame %s, tshark %s", file, col, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d cells agree with tshark, %d known mismatches excused", agree, cells, excused)
	if cells == 0 {
		t.Fatal("no cell compared")
	}
}
