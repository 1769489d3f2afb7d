package main

// What the package's tests share, owned by TestMain: the fortapi binary,
// built once for the tests that run it as a process, and one Chromium for
// the browser tests. Each is made by the first test that needs it (so
// `go test -run TestHelp` builds and starts nothing) and removed when the
// tests end. Tests get their own servers, data directories and browser
// contexts (cookie jars, proxies) from them, so they can run in parallel.

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

// testShared is what TestMain owns; tests reach it through shared.
type testShared struct {
	dir string // removed when the tests end

	binOnce sync.Once
	bin     string
	binErr  error

	brOnce   sync.Once
	brCtx    context.Context // the browser's first tab; tests open their own browser contexts from it
	brOutput *testutil.Buffer
	brErr    error
	brStop   func()
}

// shared is set by TestMain before any test runs and is not reassigned.
var shared *testShared

// minParallel is how many parallel tests the package runs at least unless
// -parallel is given: most of its tests wait (on a server, a browser, a
// reload interval) far more than they compute, so GOMAXPROCS (go test's
// default, 2 on a small machine) would leave the CPU idle.
const minParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	testutil.MinParallel(minParallel)
	dir, err := os.MkdirTemp("", "fortapi-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shared = &testShared{dir: dir}
	code := m.Run()
	shared.close()
	os.Exit(code)
}

func (s *testShared) close() {
	if s.brStop != nil {
		s.brStop()
	}
	_ = os.RemoveAll(s.dir)
}

// binary builds fortapi as users get it, once for the package.
func (s *testShared) binary(t *testing.T) string {
	t.Helper()
	s.binOnce.Do(func() {
		bin := filepath.Join(s.dir, "fortapi")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
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

// browser starts the package's Chromium (bin) once and returns its first
// tab's context and its output. It lives until TestMain ends; every test
// bounds its own use of it (see brStart).
func (s *testShared) browser(t *testing.T, bin string) (context.Context, *testutil.Buffer) {
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
			// Every test's browser context has its own black-hole proxy
			// (brStart); this one, where nothing listens, covers the rest.
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
			s.brErr = fmt.Errorf("starting %s: %v\n%s", bin, err, brTail(s.brOutput.String(), 4096))
			return
		}
		s.brCtx = ctx
	})
	if s.brErr != nil {
		t.Fatal(s.brErr)
	}
	return s.brCtx, s.brOutput
}
