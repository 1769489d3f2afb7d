package httpapi_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server/httpapi"
)

// TestAuditPageSizeAsDocumented: docs/security.md states the audit page
// cap the server enforces (it said 1,000 while the server capped at 500),
// and the server refuses one more.
func TestAuditPageSizeAsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	most := strconv.Itoa(httpapi.MaxAuditPage)
	if !strings.Contains(string(doc), "`GET /admin/audit`: ≤ "+most) || !strings.Contains(string(doc), "`limit` (1 to "+most) {
		t.Errorf("docs/security.md does not state the audit page cap of %s", most)
	}
	e := newAuthEnv(t)
	admin := bearer(e.login("root", adminPass).AccessToken)
	for limit, want := range map[int]int{httpapi.MaxAuditPage: 200, httpapi.MaxAuditPage + 1: 422} {
		if resp, b := e.call("GET", "/admin/audit?limit="+strconv.Itoa(limit), "", "", admin); resp.StatusCode != want {
			t.Errorf("limit %d: %d, want %d: %s", limit, resp.StatusCode, want, b)
		}
	}
}
