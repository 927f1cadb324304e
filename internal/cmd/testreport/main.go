// Command testreport reads the event stream of `go test -json` on stdin,
// prints what plain `go test` would (a line per package, and the output of
// failing tests and broken builds), and ends with which tests were skipped
// and why, grouped by the t.Skip message:
//
//	skipped 4 tests: two-point lab unavailable: not root (correlate: TestNetlab, TestRotatedFiles; internal/netlab: TestScenarios/{clean,loss})
//
// so that a run without root, tshark or ../shared says what it did not
// check. It exits 1 when a test or a build failed, or when the stream ends
// with a package unfinished, and 0 otherwise. scripts/test runs it.
//
// Usage:
//
//	go test -json ./... | go run ./internal/cmd/testreport
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	module := flag.String("module", "", "import path prefix to trim from package names in the skip summary (default: the module in ./go.mod)")
	flag.Parse()
	if *module == "" {
		*module = moduleFromGoMod("go.mod")
	}
	os.Exit(report(os.Stdin, os.Stdout, *module))
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output and build-fail events
	FailedBuild string
}

// test is what is known of one test while its package runs.
type test struct {
	output []string // lines, as test2json attributed them
	done   bool
}

// pkgState is one package's progress.
type pkgState struct {
	tests map[string]*test
	out   []string // what to print when the package ends
	done  bool
}

// skipped is one skipped test with the reason it gave.
type skipped struct {
	pkg, name, reason string
}

type reporter struct {
	w       io.Writer
	module  string
	pkgs    map[string]*pkgState
	order   []string // packages in the order they started
	skips   []skipped
	failed  bool
	counts  struct{ pass, fail, skip, pkgOK, pkgFail int }
	lastNL  bool // the last thing written ended a line
	written bool
}

// report copies the stream r to w in go test's usual form, followed by the
// skip summary, and returns the exit status.
func report(r io.Reader, w io.Writer, module string) int {
	rp := &reporter{w: w, module: module, pkgs: map[string]*pkgState{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event (go test writes some errors as plain text): pass it on.
			rp.print(string(line) + "\n")
			continue
		}
		rp.handle(ev)
	}
	if err := sc.Err(); err != nil {
		rp.print(fmt.Sprintf("testreport: reading the test stream: %v\n", err))
		rp.failed = true
	}
	for _, name := range rp.order {
		if p := rp.pkgs[name]; !p.done {
			rp.flushUnfinished(p)
			p.out = append(p.out, fmt.Sprintf("FAIL\t%s [no result: the test stream ended first]\n", name))
			rp.endPackage(p)
			rp.failed = true
			rp.counts.pkgFail++
		}
	}
	rp.summary()
	if rp.failed {
		return 1
	}
	return 0
}

func (rp *reporter) print(s string) {
	if s == "" {
		return
	}
	io.WriteString(rp.w, s)
	rp.written = true
	rp.lastNL = strings.HasSuffix(s, "\n")
}

func (rp *reporter) pkg(name string) *pkgState {
	p := rp.pkgs[name]
	if p == nil {
		p = &pkgState{tests: map[string]*test{}}
		rp.pkgs[name] = p
		rp.order = append(rp.order, name)
	}
	return p
}

func (rp *reporter) handle(ev event) {
	switch ev.Action {
	case "build-output":
		rp.print(ev.Output)
		return
	case "build-fail":
		rp.failed = true
		return
	}
	if ev.Package == "" {
		return
	}
	p := rp.pkg(ev.Package)
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			// The package's own lines: "ok  pkg 1.2s", "FAIL pkg", "?  pkg [no
			// test files]", panics outside tests. The bare "PASS" of verbose
			// mode is dropped, as plain go test does not print it.
			if ev.Output != "PASS\n" {
				p.out = append(p.out, ev.Output)
			}
		case "pass":
			rp.counts.pkgOK++
			rp.endPackage(p)
		case "skip": // no test files
			rp.endPackage(p)
		case "fail":
			rp.failed = true
			rp.counts.pkgFail++
			rp.flushUnfinished(p)
			rp.endPackage(p)
		}
		return
	}
	t := p.tests[ev.Test]
	if t == nil {
		t = &test{}
		p.tests[ev.Test] = t
	}
	switch ev.Action {
	case "output":
		t.output = append(t.output, ev.Output)
	case "pass":
		rp.counts.pass++
		delete(p.tests, ev.Test)
	case "skip":
		rp.counts.skip++
		rp.skips = append(rp.skips, skipped{ev.Package, ev.Test, skipReason(t.output)})
		delete(p.tests, ev.Test)
	case "fail":
		rp.counts.fail++
		rp.failed = true
		p.keep(t)
		delete(p.tests, ev.Test)
	}
}

// endPackage prints what a finished package has to say, in one piece, as
// plain go test does: packages run in parallel and their events interleave.
func (rp *reporter) endPackage(p *pkgState) {
	for _, line := range p.out {
		rp.print(line)
	}
	p.out = nil
	p.done = true
}

// flushUnfinished prints the output of a failed package's tests that never
// finished (a timeout or a crash ends the binary in the middle of them).
func (rp *reporter) flushUnfinished(p *pkgState) {
	var names []string
	for name := range p.tests {
		names = append(names, name)
	}
	sort.Strings(names)
	// Their output goes before the package's own lines (the panic and
	// the FAIL line), which have been collected already.
	own := p.out
	p.out = nil
	for _, name := range names {
		p.keep(p.tests[name])
		delete(p.tests, name)
	}
	p.out = append(p.out, own...)
}

// keep queues a failed test's output as plain go test prints it: without
// the "=== RUN" style markers of verbose mode.
func (p *pkgState) keep(t *test) {
	for _, line := range t.output {
		if !isMarker(line) {
			p.out = append(p.out, line)
		}
	}
}

func isMarker(line string) bool {
	for _, m := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME ", "=== NAME\n"} {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	return false
}

// logLine matches the first line of a t.Log/t.Skip message as the testing
// package prints it: indentation, file:line, colon, message.
var logLine = regexp.MustCompile(`^( *)[^ :]+\.go:\d+: (.*)$`)

// maxReasonLines bounds how many lines of a skip message the summary keeps.
const maxReasonLines = 20

// skipReason returns the message a skipped test gave: the last message it
// logged before "--- SKIP" (t.Skip logs its arguments just before
// stopping), with continuation lines of a multi-line message joined by
// " ". A test that logged nothing (t.SkipNow) gives "(no reason given)".
func skipReason(output []string) string {
	// The message's parts, joined once at the end: a test may log
	// millions of lines before it skips, and joining as they come would
	// take quadratic time.
	var parts []string
	indent := -1 // indentation of the message being read, -1 when none
	for _, raw := range output {
		line := strings.TrimRight(raw, "\n")
		if m := logLine.FindStringSubmatch(line); m != nil {
			parts = append(parts[:0], strings.TrimSpace(m[2]))
			indent = len(m[1])
			continue
		}
		if indent >= 0 && len(parts) < maxReasonLines && strings.HasPrefix(line, strings.Repeat(" ", indent+4)) {
			parts = append(parts, strings.TrimSpace(line))
			continue
		}
		indent = -1
	}
	if len(parts) == 0 || parts[0] == "" {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

// summary prints the skipped tests grouped by reason, most common first,
// then the totals.
func (rp *reporter) summary() {
	if rp.written && !rp.lastNL {
		rp.print("\n")
	}
	groups := map[string][]skipped{}
	for _, s := range rp.skips {
		groups[s.reason] = append(groups[s.reason], s)
	}
	reasons := make([]string, 0, len(groups))
	for r := range groups {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := groups[reasons[i]], groups[reasons[j]]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return reasons[i] < reasons[j]
	})
	if len(reasons) > 0 {
		rp.print(fmt.Sprintf("\n%d skipped tests, by reason:\n", len(rp.skips)))
	}
	for _, r := range reasons {
		g := groups[r]
		noun := "tests"
		if len(g) == 1 {
			noun = "test"
		}
		rp.print(fmt.Sprintf("skipped %d %s: %s (%s)\n", len(g), noun, r, rp.names(g)))
	}
	status := "ok"
	if rp.failed {
		status = "FAIL"
	}
	rp.print(fmt.Sprintf("\n%s: %d tests passed, %d failed, %d skipped; %d packages ok, %d failed\n",
		status, rp.counts.pass, rp.counts.fail, rp.counts.skip, rp.counts.pkgOK, rp.counts.pkgFail))
}

// names lists a group's tests by package ("pkg: TestA, TestB; pkg2:
// TestC"), with subtests of one parent written as Parent/{a,b}.
func (rp *reporter) names(g []skipped) string {
	byPkg := map[string][]string{}
	var pkgs []string
	for _, s := range g {
		p := rp.short(s.pkg)
		if _, ok := byPkg[p]; !ok {
			pkgs = append(pkgs, p)
		}
		byPkg[p] = append(byPkg[p], s.name)
	}
	sort.Strings(pkgs)
	var parts []string
	for _, p := range pkgs {
		parts = append(parts, p+": "+strings.Join(compact(byPkg[p]), ", "))
	}
	return strings.Join(parts, "; ")
}

// maxChildren caps how many subtests of one parent are named.
const maxChildren = 6

// compact writes subtests of one parent as Parent/{a,b,c}, keeping first
// appearance order.
func compact(names []string) []string {
	children := map[string][]string{}
	var order []string
	for _, n := range names {
		parent, child := "", n
		if i := strings.LastIndex(n, "/"); i >= 0 {
			parent, child = n[:i], n[i+1:]
		}
		key := parent
		if parent == "" {
			key = "\x00" + n // a top-level test stands alone
		}
		if _, ok := children[key]; !ok {
			order = append(order, key)
		}
		children[key] = append(children[key], child)
	}
	var out []string
	for _, key := range order {
		c := children[key]
		switch {
		case strings.HasPrefix(key, "\x00"):
			out = append(out, key[1:])
		case len(c) == 1:
			out = append(out, key+"/"+c[0])
		default:
			more := ""
			if len(c) > maxChildren {
				more = fmt.Sprintf(",… %d more", len(c)-maxChildren)
				c = c[:maxChildren]
			}
			out = append(out, key+"/{"+strings.Join(c, ",")+more+"}")
		}
	}
	return out
}

// short trims the module path from a package's import path.
func (rp *reporter) short(pkg string) string {
	if rp.module == "" {
		return pkg
	}
	if pkg == rp.module {
		return "."
	}
	if s, ok := strings.CutPrefix(pkg, rp.module+"/"); ok {
		return s
	}
	return pkg
}

// moduleFromGoMod returns the module path declared in the go.mod at path,
// or "" when there is none.
func moduleFromGoMod(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
