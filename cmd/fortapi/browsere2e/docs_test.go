package browsere2e

import (
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/browsertest"
	"github.com/fortapi/fortapi/internal/e2e"
)

// TestDocsRenderTheRealDocument loads /docs of the real server in Chromium:
// the embedded UI renders every operation of the server's own OpenAPI
// document with no CSP violation or script error.
func TestDocsRenderTheRealDocument(t *testing.T) {
	t.Parallel()
	bin := browsertest.Require(t)
	s := e2e.Serve(t, shared.Binary(t), t.TempDir())
	var dom, log string
	for _, budget := range []int{10000, 25000} {
		dom, log = browsertest.DumpDOM(t, bin, s.URL+"/docs", browsertest.Options{BudgetMS: budget, IgnoreCertificateErrors: true})
		if strings.Contains(dom, "/items/{id}") {
			break
		}
	}
	for _, p := range browsertest.Problems(log) {
		t.Errorf("CSP violation or script error: %s", p)
	}
	for _, want := range []string{"fortapi", "/healthz", "/readyz", "/items/", "/items/{id}", "Create an item", "Replace an item's fields"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered docs lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM (%d bytes):\n%.3000s", len(dom), dom)
	}
}
