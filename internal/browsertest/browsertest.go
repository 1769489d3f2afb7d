package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Bin is where Debian's chromium package installs the browser.
const Bin = "/usr/bin/chromium"

// Require returns the browser's path, or skips the test when it is
// missing — unless FORTAPI_TEST_STRICT=1 and FORTAPI_TEST_BROWSER=1 are
// both set, then the test fails. It also skips under -short.
func Require(t testing.TB) string {
	t.Helper()
	strict := os.Getenv("FORTAPI_TEST_STRICT") == "1" && os.Getenv("FORTAPI_TEST_BROWSER") == "1"
	if _, err := os.Stat(Bin); err != nil {
		if strict {
			t.Fatalf("FORTAPI_TEST_STRICT=1 FORTAPI_TEST_BROWSER=1 but %s: %v", Bin, err)
		}
		t.Skipf("no %s (apt-get install chromium)", Bin)
	}
	if testing.Short() && !strict {
		t.Skip("browser test skipped in -short mode")
	}
	return Bin
}

// DisabledFeatures is for Chromium's --disable-features: the browser UI's
// omnibox popups, which new headless Chromium renders as WebUI pages in
// every window (two renderers kept up to date on every navigation). Pages
// behave the same without them; the browser starts and navigates with
// much less CPU.
const DisabledFeatures = "WebUIOmniboxPopup,WebUIOmniboxAimPopup"

// Options for DumpDOM.
type Options struct {
	// BudgetMS is the virtual time the page gets to render (default 10000).
	BudgetMS int
	// IgnoreCertificateErrors lets the browser load a page served with a
	// self-signed certificate.
	IgnoreCertificateErrors bool
}

// DumpDOM loads url in a fresh headless profile and returns the serialized
// DOM and the browser's log. The browser is bounded to 60 seconds.
func DumpDOM(t testing.TB, bin, url string, opts Options) (dom, log string) {
	t.Helper()
	if opts.BudgetMS <= 0 {
		opts.BudgetMS = 10000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-first-run",
		"--no-default-browser-check", "--mute-audio", "--disable-features=" + DisabledFeatures,
		"--user-data-dir=" + home + "/profile", "--window-size=1280,900",
		fmt.Sprintf("--virtual-time-budget=%d", opts.BudgetMS),
		"--enable-logging=stderr", "--v=0", "--dump-dom",
	}
	if opts.IgnoreCertificateErrors {
		args = append(args, "--ignore-certificate-errors")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	cmd.WaitDelay = 5 * time.Second // browser helpers may hold the pipes open
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within 60s; log:\n%s", stderr.String())
	}
	if err != nil && stdout.Len() == 0 {
		t.Fatalf("chromium: %v; log:\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// Problems returns the log lines that report a CSP violation or an
// uncaught script error.
func Problems(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "content security policy") || strings.Contains(l, "refused to") ||
			strings.Contains(l, "violates the following") || strings.Contains(line, "Uncaught") {
			out = append(out, line)
		}
	}
	return out
}
