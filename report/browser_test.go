package report_test

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/netblame/netblame/report"
)

var screenshot = flag.String("screenshot", "", "TestBrowser: also write the two-point report's screenshot to this PNG file")

// chromium finds Debian's chromium (or another Chromium build).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium): the report's browser test needs it")
	return ""
}

// TestBrowser loads a two-point report in headless Chromium and checks
// that the script raised no error and made no request, that every plot
// exists with as many marked points as its data holds, that hovering a
// marker shows its frame, that clicking a column header sorts the flow
// table and the search box filters it, and that a screenshot is not blank.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	d := twoPoint(t, "nat-clock-offset", report.Options{})
	page := filepath.Join(t.TempDir(), "report.html")
	var buf bytes.Buffer
	if err := report.Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 2300),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 20*time.Second)
	defer cancelT()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, "file://") {
				problems = append(problems, "request to "+e.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string, out any) {
		t.Helper()
		var err error
		switch o := out.(type) {
		case *map[string]int:
			*o, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]int](expr))
		case *[]string:
			*o, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](expr))
		case *int:
			*o, err = chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		case *string:
			*o, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		default:
			_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		}
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady(`body[data-ready="1"]`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("report of %d bytes loaded and drawn in %v", buf.Len(), time.Since(start))
	var errText string
	eval(`document.getElementById("errors").textContent`, &errText)
	var counts map[string]int
	eval(`Object.fromEntries(Array.from(document.querySelectorAll("svg.plot")).map(s => [s.id, s.querySelectorAll("circle.marker").length]))`, &counts)
	if strings.TrimSpace(errText) != "" {
		t.Errorf("page reports: %s", errText)
	}
	want := map[string]int{}
	for _, s := range d.Sections {
		for _, p := range s.Plots {
			want[p.ID] = len(p.Markers)
		}
	}
	if len(want) == 0 {
		t.Fatal("the report has no plot")
	}
	for id, n := range want {
		got, ok := counts[id]
		if !ok {
			t.Errorf("plot %s missing from the page", id)
		} else if got != n {
			t.Errorf("plot %s: %d markers drawn, %d in its data", id, got, n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("%d plots drawn, %d in the data", len(counts), len(want))
	}

	// Hover the first marker of the transit plot: the tooltip names the
	// frames in both files.
	var tip string
	eval(`(() => { const m = document.querySelector("svg[data-kind=transit] circle.marker") || document.querySelector("circle.marker");
			m.dispatchEvent(new MouseEvent("mouseover", {bubbles: true, clientX: 10, clientY: 10})); return true })()`, nil)
	eval(`document.getElementById("tooltip").textContent`, &tip)
	if !strings.Contains(tip, "frame") || !strings.Contains(tip, "server side") {
		t.Errorf("tooltip %q: want the frames in both files", tip)
	}

	// Sorting: the first click on a numeric column sorts descending, the
	// second ascending.
	col := func(key string) []string {
		var v []string
		eval(`(() => { const i = Array.from(document.querySelectorAll("#flow-table th")).findIndex(h => h.dataset.key === "`+key+`");
			return Array.from(document.querySelectorAll("#flow-table tbody tr")).filter(r => r.style.display !== "none").map(r => r.children[i].dataset.v) })()`, &v)
		return v
	}
	click := func(key string) {
		if err := chromedp.Do(ctx, chromedp.Click(`#flow-table th[data-key="`+key+`"]`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.Flows) < 2 {
		t.Fatalf("%d flows: sorting needs two", len(d.Flows))
	}
	click("bytes_s2c")
	desc := col("bytes_s2c")
	click("bytes_s2c")
	asc := col("bytes_s2c")
	num := func(v []string) []int {
		var n []int
		for _, s := range v {
			var x int
			for _, c := range s {
				x = x*10 + int(c-'0')
			}
			n = append(n, x)
		}
		return n
	}
	if nd, na := num(desc), num(asc); !slices.IsSortedFunc(nd, func(a, b int) int { return b - a }) || !slices.IsSorted(na) || nd[0] == na[0] {
		t.Errorf("bytes column after one click %v, after two %v: want descending, then ascending", desc, asc)
	}
	click("client")
	if c := col("client"); !slices.IsSorted(c) {
		t.Errorf("client column after a click: %v, want A to Z", c)
	}

	// The search box keeps the rows that contain its text.
	q := d.Flows[0].Client
	var visible int
	eval(`(() => { const s = document.getElementById("search"); s.value = `+"`"+q+"`"+`;
		s.dispatchEvent(new Event("input")); return Array.from(document.querySelectorAll("#flow-table tbody tr")).filter(r => r.style.display !== "none").length })()`, &visible)
	wantVisible := 0
	for _, r := range d.Flows {
		if strings.Contains(r.Client+" "+r.Server, q) {
			wantVisible++
		}
	}
	if visible != wantVisible {
		t.Errorf("search %q shows %d rows, want %d", q, visible, wantVisible)
	}

	eval(`document.getElementById("search").value = ""; document.getElementById("search").dispatchEvent(new Event("input")); document.getElementById("tooltip").style.display = "none"; true`, nil)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if frac := nonWhite(img); frac < 0.02 {
		t.Errorf("screenshot %v is %.1f%% non-white: blank", img.Bounds().Size(), frac*100)
	}
	if *screenshot != "" {
		if err := os.WriteFile(*screenshot, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
}

// nonWhite is the fraction of an image's pixels that are not white.
func nonWhite(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

var loadPage = flag.String("page", "", "TestBrowserLoad: a report to time in Chromium (docs/BENCHMARKS.md)")

// TestBrowserLoad times how long Chromium takes to open and draw a given
// report (go test ./report -run TestBrowserLoad -page big.html -v), and
// checks it drew without a script error.
func TestBrowserLoad(t *testing.T) {
	if *loadPage == "" {
		t.Skip("no -page given")
	}
	exe := chromium(t)
	abs, err := filepath.Abs(*loadPage)
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 1400),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	// Start the browser first: the time below is the page's alone.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady(`body[data-ready="1"]`)); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		errText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("errors").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		markers, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("circle.marker").length`))
		if err != nil {
			t.Fatal(err)
		}
		plots, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.plot").length`))
		if err != nil {
			t.Fatal(err)
		}
		if errText != "" {
			t.Errorf("page reports: %s", errText)
		}
		t.Logf("load %d: %v to open and draw %d plots with %d markers", i+1, took, plots, markers)
	}
}
