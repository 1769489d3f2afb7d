package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fortapi/fortapi/internal/browsertest"
	"github.com/fortapi/fortapi/internal/testutil"
)

// Command is the package the tests build: fortapi as users get it.
const Command = "github.com/fortapi/fortapi/cmd/fortapi"

// Shared is what a test package's TestMain owns and its tests share: the
// fortapi binary, built once, and one Chromium. Each is made by the first
// test that needs it (so a run of tests that need neither builds and
// starts nothing) and removed by Close. Tests get their own servers, data
// directories and browser contexts from them, so they can run in parallel.
type Shared struct {
	dir string // removed by Close

	binOnce sync.Once
	bin     string
	binErr  error

	brOnce   sync.Once
	brCtx    context.Context // the browser's first tab; tests open their own browser contexts from it
	brOutput *testutil.Buffer
	brErr    error
	brStop   func()
}

// NewShared makes a Shared whose files live in a new temporary directory
// named after pattern (as os.MkdirTemp).
func NewShared(pattern string) (*Shared, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	return &Shared{dir: dir}, nil
}

// Main is the TestMain of a package of end-to-end tests: it parses the
// flags, runs at least minParallel parallel tests (testutil.MinParallel:
// they wait on servers and browsers far more than they compute), hands
// a new Shared (pattern as NewShared) to set before any test runs, and
// exits with the tests' code after closing it.
func Main(m *testing.M, pattern string, minParallel int, set func(*Shared)) {
	flag.Parse()
	testutil.MinParallel(minParallel)
	s, err := NewShared(pattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	set(s)
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// Close stops the browser, if one started, and removes the files.
func (s *Shared) Close() {
	if s.brStop != nil {
		s.brStop()
	}
	_ = os.RemoveAll(s.dir)
}

// Binary returns fortapi built as users get it (go build of Command),
// once for the test package. It skips t under -short.
func (s *Shared) Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	s.binOnce.Do(func() {
		bin := filepath.Join(s.dir, "fortapi")
		if out, err := exec.Command("go", "build", "-o", bin, Command).CombinedOutput(); err != nil {
			s.binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		s.bin = bin
	})
	if s.binErr != nil {
		t.Fatal(s.binErr)
	}
	return s.bin
}

// Browser starts the package's Chromium (bin, see browsertest.Require)
// once and returns its first tab's context and its output. It lives until
// Close; every test bounds its own use of it, in a browser context of its
// own with a deadline.
func (s *Shared) Browser(t testing.TB, bin string) (context.Context, *testutil.Buffer) {
	t.Helper()
	s.brOnce.Do(func() {
		home := filepath.Join(s.dir, "chromium")
		s.brOutput = &testutil.Buffer{}
		opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
			chromedp.ExecPath(bin),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.IgnoreCertErrors, // the servers' development certificates are self-signed
			chromedp.UserDataDir(home+"/profile"),
			// Every test's browser context has its own proxy (a black
			// hole); this one, where nothing listens, covers the rest.
			chromedp.ProxyServer("http://127.0.0.1:9"),
			chromedp.WindowSize(1280, 900),
			// chromedp's default list, and the omnibox popups of the
			// browser's own UI: new headless Chromium keeps WebUI
			// renderers for them in every window and updates them on
			// every navigation, which costs more CPU than the pages.
			chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,"+browsertest.DisabledFeatures),
			chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home),
			chromedp.CombinedOutput(s.brOutput),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		s.brStop = func() {
			cancelBrowser()
			cancelAlloc() // waits for the browser to exit
		}
		if err := chromedp.Do(ctx); err != nil {
			s.brErr = fmt.Errorf("starting %s: %v\n%s", bin, err, Tail(s.brOutput.String(), 4096))
			return
		}
		s.brCtx = ctx
	})
	if s.brErr != nil {
		t.Fatal(s.brErr)
	}
	return s.brCtx, s.brOutput
}

// Tail returns the last n bytes of s, marked with "..." when cut.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
