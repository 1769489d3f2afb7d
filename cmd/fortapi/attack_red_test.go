package main

// Red-team attacks on the features merged with API keys, the browser flow
// and sanitize-before-validate, run by TestAuthorizationAttacks on its
// shared server (the "Red" group). Each case names the flaw it pins.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func (e *atkEnv) redCases(t *testing.T) []atkCase {
	t.Helper()
	hostile := `<img src=x onerror=alert(1)><script>alert(2)</script>ok`
	body, _ := json.Marshal(map[string]any{"name": "red-ct", "description": hostile, "price": 1})
	// noScript: an item answered (created or listed) holds no markup the
	// Rich policy removes: it was sanitized before it was stored.
	noScript := func(t *testing.T, r atkResp) {
		if r.status == http.StatusUnsupportedMediaType {
			return
		}
		var it atkItem
		if err := jsonUnmarshal(r.body, &it); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		if strings.Contains(it.Description, "onerror") || strings.Contains(it.Description, "<script") {
			t.Errorf("the description was stored unsanitized: %q", it.Description)
		}
	}
	var cases []atkCase
	// A JSON media type with a malformed parameter skipped the Rich
	// policy while huma still decoded the body: stored XSS through the
	// item's description (rendered as HTML by GET /items/{id}/view).
	for _, ct := range []string{"application/json; charset", `application/json; a="`, "json", "application/x+json;;",
		"application/json;charset=utf-8;charset=utf-7"} {
		cases = append(cases, atkCase{
			name: "sanitize bypass by Content-Type " + ct, method: "POST", path: "/items/", tok: e.alice.access,
			ctype: ct, body: string(body), want: http.StatusUnsupportedMediaType, check: noScript,
		})
	}
	return cases
}
