package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server/httpapi"
)

// FuzzCreateItem posts arbitrary bodies to POST /items/ on real SQLite:
// never a 5xx, and whatever is accepted reads back unchanged.
func FuzzCreateItem(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","price":1}`,
		`{"name":"x","price":1,"tax":0.5,"description":"<b>hi</b>"}`,
		`{"name":"'; DROP TABLE items; --","price":1e9}`,
		`{"name":"\u0000","price":5e-324}`,
		`{"name":"x","price":1,"tax":null}`,
		`{"name":"é","price":1,"owner":"bob"}`,
	} {
		f.Add(s)
	}
	srv := newServer(f)
	alice := client{f, srv, "Test alice"}
	f.Fuzz(func(t *testing.T, body string) {
		c := client{t, srv, alice.auth}
		resp, b := c.do("POST", "/items/", body)
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, b)
		}
		if resp.StatusCode != 201 {
			return
		}
		var created httpapi.Item
		if err := json.Unmarshal(b, &created); err != nil {
			t.Fatal(err)
		}
		resp, b = c.do("GET", "/items/"+created.ID, "")
		var got httpapi.Item
		if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
			t.Fatalf("read back: %d %s", resp.StatusCode, b)
		}
		if got.Name != created.Name || got.Description != created.Description || got.Price != created.Price || got.Owner != "alice" {
			t.Fatalf("stored %+v, read back %+v", created, got)
		}
		if strings.Contains(string(b), `"owner":"bob"`) {
			t.Fatal("owner was mass-assigned")
		}
	})
}
