package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fortapi/fortapi/server/httpapi"
)

// Through the real routes, an item whose name is markup and line
// separators is answered (POST, GET, PUT) with every HTML-significant
// character and U+2028/U+2029 escaped, exactly as encoding/json writes it,
// as application/json with nosniff and no-store.
func TestItemAnswersEscapeHTML(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	alice := client{t, srv, "Test alice"}
	const name = "</script><img src=x onerror=alert(1)> & \u2028\u2029 \"q\" \\"
	body, _ := json.Marshal(map[string]any{"name": name, "description": "<b>bold</b> &amp; <i>x</i>", "price": 12.5, "tax": 2.5})
	resp, b := alice.do("POST", "/items/", string(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var it httpapi.Item
	if err := json.Unmarshal(b, &it); err != nil {
		t.Fatal(err)
	}
	if it.Name != name {
		t.Fatalf("name %q, want %q", it.Name, name)
	}
	put, _ := json.Marshal(map[string]any{"name": name + "<", "description": "<b>&</b>", "price": 1e-6, "tax": nil})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/items/" + it.ID, ""},
		{"PUT", "/items/" + it.ID, string(put)},
		{"GET", "/items/" + it.ID, ""},
	} {
		resp, b := alice.do(tc.method, tc.path, tc.body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b)
		}
		for _, raw := range []string{"<", ">", "&", "\u2028", "\u2029"} {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%s %s: the answer holds %q unescaped: %s", tc.method, tc.path, raw, b)
			}
		}
		var got httpapi.Item
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(got)
		if err != nil || !bytes.Equal(b, append(want, '\n')) {
			t.Errorf("%s %s: answer\n%s\nencoding/json writes\n%s", tc.method, tc.path, b, want)
		}
		if ct, ns, cc := resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Cache-Control"); ct != "application/json" || ns != "nosniff" || cc != "no-store" {
			t.Errorf("%s %s: Content-Type %q, X-Content-Type-Options %q, Cache-Control %q", tc.method, tc.path, ct, ns, cc)
		}
	}
}
