package scan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/browsertest"
)

// TestHTMLReportInChromium opens the HTML report as a user would, from a
// file in Chromium, and reads what the browser made of it: the summary and
// every finding render, the hostile evidence stays text (no element, no
// script ran), and the page's own CSP (no script, hashed styles, nothing
// external) reports no violation, which proves the report needs nothing
// it does not carry.
func TestHTMLReportInChromium(t *testing.T) {
	t.Parallel()
	bin := browsertest.Require(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dom, log := browsertest.DumpDOM(t, bin, "file://"+path, browsertest.Options{BudgetMS: 2000})
	if p := browsertest.Problems(log); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
	for _, want := range []string{"Summary by severity", "Summary by category", "BOLA-READ", "HDR-NOSNIFF-MISSING", "GET /items/{id}", "API1:2023", "CWE-639"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered report lacks %q", want)
		}
	}
	// The evidence holds markup: in the DOM it must be text, escaped again
	// when the DOM is serialized, never an element.
	for _, bad := range []string{"<script>alert(1)", "<img"} {
		if strings.Contains(strings.ReplaceAll(dom, "&lt;", "\x00"), bad) {
			t.Errorf("the hostile evidence became markup in the browser: %q", bad)
		}
	}
	if !strings.Contains(dom, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile evidence is not shown as text")
	}
}
