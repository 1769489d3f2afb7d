package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
)

// auth trusts "Authorization: Test USER [SCOPE...]"; without scopes the
// user gets items:read items:write. It stands in for the token and session
// authenticators through the same interface.
func auth(r *http.Request) (*fortapi.Principal, error) {
	f := strings.Fields(r.Header.Get("Authorization"))
	if len(f) < 2 || f[0] != "Test" {
		return nil, fortapi.ErrNoCredentials
	}
	scopes := f[2:]
	if len(scopes) == 0 {
		scopes = []string{httpapi.ScopeItemsRead, httpapi.ScopeItemsWrite}
	}
	return &fortapi.Principal{Subject: f[1], Scheme: fortapi.BearerScheme, Scopes: scopes}, nil
}

func newServer(t testing.TB) *httptest.Server {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "items.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// These tests (and the fuzz target) are not about rate limits: the
	// declared limits run, scaled up a thousand times.
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Scale: 1000})
	if err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(auth), Logger: slog.New(slog.DiscardHandler), RateLimits: set})
	httpapi.Register(api, httpapi.Deps{Store: store})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(validating(t, api, h))
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t    testing.TB
	srv  *httptest.Server
	auth string
}

func (c client) do(method, path, body string) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

func (c client) create(body string) httpapi.Item {
	c.t.Helper()
	resp, b := c.do("POST", "/items/", body)
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var it httpapi.Item
	if err := json.Unmarshal(b, &it); err != nil {
		c.t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); loc != "/items/"+it.ID {
		c.t.Errorf("Location = %q, want /items/%s", loc, it.ID)
	}
	return it
}

func TestItemLifecycle(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	it := alice.create(`{"name":"Hammer","description":"Steel","price":12.5,"tax":2.5}`)
	if it.Owner != "alice" || it.Name != "Hammer" || it.Description != "Steel" || it.Price != 12.5 || it.Tax == nil || *it.Tax != 2.5 || it.PriceWithTax != 15 {
		t.Errorf("created item %+v", it)
	}
	if it.CreatedAt.IsZero() || !it.CreatedAt.Equal(it.UpdatedAt) {
		t.Errorf("timestamps %v %v", it.CreatedAt, it.UpdatedAt)
	}

	resp, b := alice.do("GET", "/items/"+it.ID, "")
	var got httpapi.Item
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.ID != it.ID || !got.CreatedAt.Equal(it.CreatedAt) {
		t.Fatalf("get: %d %s", resp.StatusCode, b)
	}

	resp, b = alice.do("PUT", "/items/"+it.ID, `{"name":"Mallet","price":20}`)
	var upd httpapi.Item
	if resp.StatusCode != 200 || json.Unmarshal(b, &upd) != nil {
		t.Fatalf("put: %d %s", resp.StatusCode, b)
	}
	if upd.Name != "Mallet" || upd.Description != "" || upd.Tax != nil || upd.PriceWithTax != 20 || upd.Owner != "alice" || !upd.CreatedAt.Equal(it.CreatedAt) || upd.UpdatedAt.Before(it.UpdatedAt) {
		t.Errorf("updated item %+v", upd)
	}

	if resp, b = alice.do("DELETE", "/items/"+it.ID, ""); resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if resp, _ = alice.do(m, "/items/"+it.ID, ""); resp.StatusCode != 404 {
			t.Errorf("%s after delete: %d", m, resp.StatusCode)
		}
	}
}

func TestObjectLevelAccess(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	bob := client{t, srv, "Test bob"}
	admin := client{t, srv, "Test root items:read items:write " + httpapi.ScopeAdmin}
	a := alice.create(`{"name":"alice's","price":1}`)
	bob.create(`{"name":"bob's","price":2}`)

	for _, tt := range []struct{ method, body string }{
		{"GET", ""}, {"PUT", `{"name":"stolen","price":1}`}, {"DELETE", ""},
	} {
		t.Run("bob "+tt.method, func(t *testing.T) {
			resp, b := bob.do(tt.method, "/items/"+a.ID, tt.body)
			if resp.StatusCode != 404 {
				t.Fatalf("bob %s alice's item: %d %s (want 404, never 403)", tt.method, resp.StatusCode, b)
			}
			missing, mb := bob.do(tt.method, "/items/01a2211e-0000-7000-8000-000000000000", tt.body)
			if missing.StatusCode != 404 || string(mb[:strings.Index(string(mb), `"instance"`)]) != string(b[:strings.Index(string(b), `"instance"`)]) {
				t.Errorf("another user's item is distinguishable from a missing one:\n%s\n%s", b, mb)
			}
		})
	}
	if resp, b := alice.do("GET", "/items/"+a.ID, ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"alice's"`) {
		t.Errorf("bob's attempts changed alice's item: %d %s", resp.StatusCode, b)
	}
	names := func(c client) []string {
		resp, b := c.do("GET", "/items/", "")
		var page httpapi.ItemPage
		if resp.StatusCode != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Name)
		}
		return out
	}
	if got := names(bob); len(got) != 1 || got[0] != "bob's" {
		t.Errorf("bob lists %v", got)
	}
	if got := names(admin); len(got) != 2 {
		t.Errorf("admin lists %v, want both items", got)
	}
	if resp, _ := admin.do("GET", "/items/"+a.ID, ""); resp.StatusCode != 200 {
		t.Errorf("admin get: %d", resp.StatusCode)
	}
}

func TestMassAssignmentIsRefused(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	for _, field := range []string{`"id":"01a2211e-0000-7000-8000-000000000000"`, `"owner":"bob"`, `"owner_id":"bob"`, `"created_at":"2020-01-01T00:00:00Z"`, `"price_with_tax":0`, `"role":"admin"`} {
		t.Run(field, func(t *testing.T) {
			resp, b := alice.do("POST", "/items/", `{"name":"x","price":1,`+field+`}`)
			if resp.StatusCode != 422 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
		})
	}
}

func TestItemValidation(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	long := strings.Repeat("é", 101)
	tests := []struct {
		name, body string
		status     int
	}{
		{"minimal", `{"name":"x","price":0.01}`, 201},
		{"100 characters", `{"name":"` + strings.Repeat("é", 100) + `","price":1}`, 201},
		{"name too long", `{"name":"` + long + `","price":1}`, 422},
		{"empty name", `{"name":"","price":1}`, 422},
		{"missing price", `{"name":"x"}`, 422},
		{"zero price", `{"name":"x","price":0}`, 422},
		{"negative price", `{"name":"x","price":-5}`, 422},
		{"price at the cap", `{"name":"x","price":1e9}`, 201},
		{"price over the cap", `{"name":"x","price":1000000000.01}`, 422},
		{"negative tax", `{"name":"x","price":1,"tax":-0.01}`, 422},
		{"zero tax", `{"name":"x","price":1,"tax":0}`, 201},
		{"absurd tax", `{"name":"x","price":1,"tax":1e308}`, 422},
		{"description at 10,000", `{"name":"x","price":1,"description":"` + strings.Repeat("d", 10000) + `"}`, 201},
		{"description over 10,000", `{"name":"x","price":1,"description":"` + strings.Repeat("d", 10001) + `"}`, 422},
		{"string price", `{"name":"x","price":"1"}`, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := alice.do("POST", "/items/", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, b)
			}
		})
	}
}

func TestMalformedIDs(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	for _, id := range []string{"1", "abc", "01A2211E-0000-7000-8000-000000000000", "%27%20OR%201=1--", "..%2f..%2fetc", strings.Repeat("a", 500), "00000000-0000-0000-0000-000000000000"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			t.Run(m+" "+id[:min(len(id), 20)], func(t *testing.T) {
				body := ""
				if m == "PUT" {
					body = `{"name":"x","price":1}`
				}
				resp, b := alice.do(m, "/items/"+id, body)
				if resp.StatusCode != 404 && resp.StatusCode != 422 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
			})
		}
	}
}

func TestPagination(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	bob := client{t, srv, "Test bob"}
	const n = 23
	want := map[string]bool{}
	for i := range n {
		want[alice.create(fmt.Sprintf(`{"name":"item %d","price":1}`, i)).ID] = true
		bob.create(`{"name":"noise","price":1}`)
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		path := "/items/?limit=5"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp, b := alice.do("GET", path, "")
		var page httpapi.ItemPage
		if resp.StatusCode != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, b)
		}
		pages++
		for _, it := range page.Items {
			if !want[it.ID] || seen[it.ID] {
				t.Fatalf("unexpected or repeated item %s", it.ID)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		if len(page.Items) != 5 {
			t.Fatalf("a non-final page has %d items", len(page.Items))
		}
		cursor = page.NextCursor
	}
	if len(seen) != n || pages != 5 {
		t.Errorf("saw %d items in %d pages, want %d in 5", len(seen), pages, n)
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=-1", "cursor=not-base64!", "cursor=YWJj", "cursor=" + strings.Repeat("A", 65)} {
		t.Run(bad, func(t *testing.T) {
			if resp, b := alice.do("GET", "/items/?"+bad, ""); resp.StatusCode != 422 {
				t.Errorf("status %d: %s", resp.StatusCode, b)
			}
		})
	}
	t.Run("default page size", func(t *testing.T) {
		_, b := alice.do("GET", "/items/", "")
		var page httpapi.ItemPage
		if json.Unmarshal(b, &page) != nil || len(page.Items) != 20 || page.NextCursor == "" {
			t.Errorf("default page: %d items, cursor %q", len(page.Items), page.NextCursor)
		}
	})
}

func TestScopes(t *testing.T) {
	srv := newServer(t)
	reader := client{t, srv, "Test carol items:read"}
	writer := client{t, srv, "Test carol items:write"}
	anon := client{t, srv, ""}
	it := writer.create(`{"name":"x","price":1}`)
	tests := []struct {
		c                  client
		method, path, body string
		status             int
	}{
		{anon, "GET", "/items/", "", 401},
		{anon, "POST", "/items/", `{"name":"x","price":1}`, 401},
		{anon, "GET", "/items/" + it.ID, "", 401},
		{reader, "POST", "/items/", `{"name":"x","price":1}`, 403},
		{reader, "PUT", "/items/" + it.ID, `{"name":"x","price":1}`, 403},
		{reader, "DELETE", "/items/" + it.ID, "", 403},
		{reader, "GET", "/items/" + it.ID, "", 200},
		{writer, "GET", "/items/", "", 403},
		{anon, "GET", "/healthz", "", 200},
		{anon, "GET", "/readyz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.c.auth+" "+tt.method+" "+tt.path, func(t *testing.T) {
			if resp, b := tt.c.do(tt.method, tt.path, tt.body); resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
		})
	}
}

// TestHostileStringsRoundTrip: SQL and other hostile text is stored as
// text (parameterized SQL); the plain-text name is stored exactly as sent,
// markup included, and the rich description is sanitized on the way in;
// what comes back is exactly what was stored.
func TestHostileStringsRoundTrip(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	for _, tt := range []struct {
		in, name, description string
	}{
		{`'; DROP TABLE items; --`, `'; DROP TABLE items; --`, `&#39;; DROP TABLE items; --`},
		{`" OR 1=1 --`, `" OR 1=1 --`, `&#34; OR 1=1 --`},
		{"<b>bold</b> & <i>co</i>", "<b>bold</b> & <i>co</i>", "<b>bold</b> &amp; <i>co</i>"},
		{"Widget <i>deluxe</i>", "Widget <i>deluxe</i>", "Widget <i>deluxe</i>"},
		{`x<img src=x onerror=alert(1)>`, `x<img src=x onerror=alert(1)>`, "x"},
		{`<a href="javascript:alert(1)">y</a>`, `<a href="javascript:alert(1)">y</a>`, "y"},
		{`<a href="https://example.com/">z</a>`, `<a href="https://example.com/">z</a>`, `<a href="https://example.com/" rel="nofollow noopener noreferrer">z</a>`},
		{"\u202e\u0000x", "\u202e\u0000x", "\u202ex"},
		{"null", "null", "null"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"name": tt.in, "description": tt.in, "price": 1})
			resp, b := alice.do("POST", "/items/", string(body))
			if resp.StatusCode != 201 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var created httpapi.Item
			_ = json.Unmarshal(b, &created)
			_, b = alice.do("GET", "/items/"+created.ID, "")
			var got httpapi.Item
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.name || got.Description != tt.description {
				t.Errorf("stored name %q, description %q; want %q, %q", got.Name, got.Description, tt.name, tt.description)
			}
			if created.Name != got.Name || created.Description != got.Description {
				t.Errorf("create answered %q/%q, GET %q/%q", created.Name, created.Description, got.Name, got.Description)
			}
		})
	}
	// A blank name is refused; a description is sanitized before its
	// maxLength is checked, so script cannot pad it past the limit nor
	// make a short one.
	if resp, b := alice.do("POST", "/items/", `{"name":"   ","price":1}`); resp.StatusCode != 422 {
		t.Errorf("blank name: %d %s", resp.StatusCode, b)
	}
	long := `{"name":"n","price":1,"description":"<script>` + strings.Repeat("x", 10000) + `</script>ok"}`
	if resp, b := alice.do("POST", "/items/", long); resp.StatusCode != 201 || !strings.Contains(string(b), `"description":"ok"`) {
		t.Errorf("description of script over 10,000 characters: %d %s", resp.StatusCode, b)
	}
}

// TestItemsBadInput sends hostile input to the items operations; every
// answer is a documented 4xx problem (checked by the validating wrapper).
func TestItemsBadInput(t *testing.T) {
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	it := alice.create(`{"name":"x","price":1}`)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed JSON", "POST", "/items/", `{"name":`, 400},
		{"invalid UTF-8", "POST", "/items/", "{\"name\":\"\xff\",\"price\":1}", 400},
		{"deep nesting", "POST", "/items/", deep, 400},
		{"oversized", "POST", "/items/", `{"name":"` + strings.Repeat("a", 1<<20) + `","price":1}`, 413},
		{"malformed JSON on update", "PUT", "/items/" + it.ID, `{"name":"x",`, 400},
		{"array body", "PUT", "/items/" + it.ID, `[1,2]`, 422},
		{"unknown field on update", "PUT", "/items/" + it.ID, `{"name":"x","price":1,"owner":"bob"}`, 422},
		{"absurd limit", "GET", "/items/?limit=99999999999999999999", "", 422},
		{"unknown query", "GET", "/items/?admin=true", "", 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := alice.do(tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tt.status, b)
			}
		})
	}
}
