package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server/httpapi"
)

// TestAPIKeyRoutes: creation answers the key once with its metadata and
// Cache-Control no-store; listings never show it; input is checked
// (scopes beyond the caller's: 403 naming the scope; a bad network or a
// past expiry: 422 naming the field); a user cannot revoke another's key;
// an administrator can, and the key dies at once.
func TestAPIKeyRoutes(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	alice := e.login("alice", alicePass).AccessToken
	reader := e.login("alice", alicePass, "items:read").AccessToken
	root := e.login("root", adminPass).AccessToken
	type hdr = map[string]string

	resp, b := e.call("POST", "/users/me/api-keys", "application/json",
		`{"name":"ci","scopes":["items:read"],"expires_at":"`+time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)+`","allowed_cidrs":["127.0.0.0/8"]}`, bearer(alice))
	var k httpapi.NewAPIKeyInfo
	if resp.StatusCode != 201 || json.Unmarshal(b, &k) != nil || !strings.HasPrefix(k.Key, "fak_"+k.ID+"_") || k.ExpiresAt == nil ||
		strings.Join(k.AllowedCIDRs, ",") != "127.0.0.0/8" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %s", resp.StatusCode, resp.Header.Get("Cache-Control"), b)
	}
	if resp, b := e.call("GET", "/items/", "", "", hdr{"X-API-Key": k.Key}); resp.StatusCode != 200 {
		t.Fatalf("the key: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call("GET", "/users/me/api-keys", "", "", bearer(alice))
	if resp.StatusCode != 200 || !strings.Contains(string(b), k.ID) || strings.Contains(string(b), k.Key[21:]) || strings.Contains(string(b), `"key"`) {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}

	for _, tc := range []struct {
		name, tok, body string
		want            int
		says            string
	}{
		{"scope beyond the token", reader, `{"name":"x","scopes":["items:write"]}`, 403, `the scope \"items:write\" is not granted to you`},
		{"scope beyond the role", alice, `{"name":"x","scopes":["users:admin"]}`, 403, `\"users:admin\" is not granted`},
		{"unknown scope", alice, `{"name":"x","scopes":["root"]}`, 422, "scopes"},
		{"bad network", alice, `{"name":"x","scopes":["items:read"],"allowed_cidrs":["10.0.0.0/33"]}`, 422, "body.allowed_cidrs"},
		{"past expiry", alice, `{"name":"x","scopes":["items:read"],"expires_at":"2020-01-01T00:00:00Z"}`, 422, "body.expires_at"},
		{"control in the name", alice, `{"name":"a\u0007b","scopes":["items:read"]}`, 422, "body.name"},
		{"no scope", alice, `{"name":"x","scopes":[]}`, 422, "scopes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.call("POST", "/users/me/api-keys", "application/json", tc.body, bearer(tc.tok))
			if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.says) {
				t.Fatalf("%d %s, want %d saying %s", resp.StatusCode, b, tc.want, tc.says)
			}
		})
	}

	// root cannot revoke alice's key through its own /me route (404, as
	// for a key that does not exist), and nobody can with a bad id.
	for _, path := range []string{"/users/me/api-keys/" + k.ID, "/users/me/api-keys/AAAAAAAAAAAAAAAA", "/users/me/api-keys/..%2F..%2Fxxxxxxxx"} {
		if resp, b := e.call("DELETE", path, "", "", bearer(root)); resp.StatusCode != 404 && resp.StatusCode != 422 {
			t.Errorf("DELETE %s by another user: %d %s", path, resp.StatusCode, b)
		}
	}
	if resp, _ := e.call("GET", "/items/", "", "", hdr{"X-API-Key": k.Key}); resp.StatusCode != 200 {
		t.Fatal("the key died from another user's attempt")
	}
	aliceID := func() string {
		resp, b := e.call("GET", "/users/me", "", "", bearer(alice))
		var p httpapi.Profile
		if resp.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("/users/me: %d %s", resp.StatusCode, b)
		}
		return p.ID
	}()
	resp, b = e.call("GET", "/users/"+aliceID+"/api-keys", "", "", bearer(root))
	if resp.StatusCode != 200 || !strings.Contains(string(b), k.ID) {
		t.Fatalf("admin list: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.call("DELETE", "/users/"+aliceID+"/api-keys/"+k.ID, "", "", bearer(root)); resp.StatusCode != 204 {
		t.Fatalf("admin revoke: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.call("GET", "/items/", "", "", hdr{"X-API-Key": k.Key}); resp.StatusCode != 401 {
		t.Fatalf("the key revoked by an administrator: %d", resp.StatusCode)
	}
	if resp, b := e.call("GET", "/users/00000000-0000-7000-8000-000000000000/api-keys", "", "", bearer(root)); resp.StatusCode != 404 {
		t.Fatalf("keys of nobody: %d %s", resp.StatusCode, b)
	}
}
