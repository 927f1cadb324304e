package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The canned streams under testdata are real `go test -json` output (Go
// 1.26) from a throwaway module "bf" (paths rewritten to /src/bf):
//   - mixed.json: bf/a does not compile, bf/b has a failing test and
//     skips (with a reason, a two-line reason, none), bf/c hangs past
//     -timeout 2s, bf/d passes with two skips, bf/e has no test files;
//   - pass.json: only bf/d and bf/e.

func run(t *testing.T, file, module string) (string, int) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	code := report(f, &out, module)
	return out.String(), code
}

func TestMixed(t *testing.T) {
	out, code := run(t, "mixed.json", "bf")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{
		// The build failure, with the compiler's message.
		"# bf/a [bf/a.test]\na/a.go:2:12: undefined: y\nFAIL\tbf/a [build failed]\n",
		// A failing test's output, without verbose-mode markers, then its package's lines.
		"    b_test.go:7: some log\n    b_test.go:8: boom\n        second line\n--- FAIL: TestFail (0.00s)\nFAIL\nFAIL\tbf/b\t0.003s\n",
		"ok  \tbf/d\t0.004s\n",
		"?   \tbf/e\t[no test files]\n",
		// The hung test's log and the timeout panic, before the package's FAIL line.
		"    c_test.go:5: started\npanic: test timed out after 2s\n",
		"FAIL\tbf/c\t2.010s\n",
		// The skip summary: grouped by reason, most common first, subtests compacted.
		"\n6 skipped tests, by reason:\n" +
			"skipped 3 tests: not root: two-point lab unavailable (b: TestSkip, TestSub/y; d: TestRoot)\n" +
			"skipped 1 test: (no reason given) (b: TestSub/z)\n" +
			"skipped 1 test: ../shared (beside the repository) not found: shared captures unavailable (d: TestShared)\n" +
			"skipped 1 test: multi line reason (b: TestSub/x)\n",
		"\nFAIL: 3 tests passed, 1 failed, 6 skipped; 1 packages ok, 3 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s\n--- output:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"=== RUN", "noise that passing tests do not print", "\nPASS\n", "first\n"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, out)
		}
	}
	// Packages are printed whole: bf/b's failing test comes right before bf/b's FAIL line.
	if i, j := strings.Index(out, "--- FAIL: TestFail"), strings.Index(out, "FAIL\tbf/b"); i < 0 || j < i {
		t.Errorf("TestFail's output is not right before its package's FAIL line:\n%s", out)
	}
}

func TestPass(t *testing.T) {
	out, code := run(t, "pass.json", "")
	if code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, out)
	}
	// Without a module to trim, package names stay whole.
	if !strings.Contains(out, "skipped 1 test: not root: two-point lab unavailable (bf/d: TestRoot)\n") {
		t.Errorf("skip summary missing:\n%s", out)
	}
	if !strings.HasSuffix(out, "\nok: 1 tests passed, 0 failed, 2 skipped; 1 packages ok, 0 failed\n") {
		t.Errorf("totals line missing:\n%s", out)
	}
}

// A stream cut short (go test killed) must not pass.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "pass.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	var kept []string
	for _, l := range lines {
		if !strings.Contains(l, `"Action":"pass","Package":"bf/d","Elapsed"`) {
			kept = append(kept, l)
		}
	}
	var out strings.Builder
	if code := report(strings.NewReader(strings.Join(kept, "")), &out, "bf"); code != 1 {
		t.Errorf("exit status %d for a stream without bf/d's result, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "FAIL\tbf/d [no result: the test stream ended first]\n") {
		t.Errorf("unfinished package not reported:\n%s", out.String())
	}
}

// Plain text lines (go test's own errors) are passed on, and do not by
// themselves fail the run.
func TestPlainLines(t *testing.T) {
	var out strings.Builder
	code := report(strings.NewReader("go: warning: something\n\n"), &out, "")
	if code != 0 || !strings.HasPrefix(out.String(), "go: warning: something\n") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

func TestSkipReason(t *testing.T) {
	for _, c := range []struct {
		out  []string
		want string
	}{
		{[]string{"=== RUN   TestX\n", "    x_test.go:3: logged first\n", "    x_test.go:4: the reason\n", "--- SKIP: TestX (0.00s)\n"}, "the reason"},
		{[]string{"=== RUN   TestX/y\n", "        x_test.go:9: two\n", "            lines\n", "    --- SKIP: TestX/y (0.00s)\n"}, "two lines"},
		{[]string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
		{[]string{"    helper.go:12: skipped: needs root: operation not permitted\n"}, "skipped: needs root: operation not permitted"},
	} {
		if got := skipReason(c.out); got != c.want {
			t.Errorf("skipReason(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}

func TestCompact(t *testing.T) {
	got := strings.Join(compact([]string{"TestA", "TestB/x", "TestB/y", "TestC/only", "TestB/z",
		"TestD/1", "TestD/2", "TestD/3", "TestD/4", "TestD/5", "TestD/6", "TestD/7", "TestD/8"}), ", ")
	want := "TestA, TestB/{x,y,z}, TestC/only, TestD/{1,2,3,4,5,6,… 2 more}"
	if got != want {
		t.Errorf("compact = %q, want %q", got, want)
	}
}

func TestModuleFromGoMod(t *testing.T) {
	p := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(p, []byte("// comment\nmodule github.com/netblame/netblame\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := moduleFromGoMod(p); got != "github.com/netblame/netblame" {
		t.Errorf("moduleFromGoMod = %q", got)
	}
	if got := moduleFromGoMod(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("moduleFromGoMod of a missing file = %q", got)
	}
}

// TestSkipReasonLongMessage: a skip message of a million continuation
// lines (a test that logged a whole report first) is cut to
// maxReasonLines, and the earlier messages are dropped.
func TestSkipReasonLongMessage(t *testing.T) {
	out := []string{"    x_test.go:10: an earlier message\n", "    x_test.go:12: skipped: the truth failed\n"}
	for range 1_000_000 {
		out = append(out, "        detail\n")
	}
	got := skipReason(out)
	want := "skipped: the truth failed" + strings.Repeat(" detail", maxReasonLines-1)
	if got != want {
		t.Errorf("reason %.80q... (%d bytes), want %q", got, len(got), want)
	}
}
