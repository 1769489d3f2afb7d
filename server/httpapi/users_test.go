package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/httpapi"
)

func (e *authEnv) jsonCall(method, path, tok, body string) (*http.Response, []byte) {
	e.t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return e.call(method, path, ctype, body, bearer(tok))
}

func TestAdminCreatesAndListsUsers(t *testing.T) {
	e := newAuthEnv(t)
	admin := e.login("root", adminPass).AccessToken

	resp, b := e.jsonCall("POST", "/users", admin, `{"username":"carol","password":"carol's long passphrase","role":"user"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var carol httpapi.UserInfo
	if err := json.Unmarshal(b, &carol); err != nil || carol.Username != "carol" || carol.Role != "user" || !server.ValidID(carol.ID) {
		t.Fatalf("created user %+v (%v)", carol, err)
	}
	if strings.Contains(string(b), "argon2") || strings.Contains(string(b), "passphrase") {
		t.Fatalf("the answer holds the password or its hash: %s", b)
	}
	// The new user logs in with the role's scopes.
	if got := e.login("carol", "carol's long passphrase").Scope; got != "items:read items:write" {
		t.Errorf("carol's scopes %q", got)
	}

	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"taken username", `{"username":"CAROL","password":"another long passphrase","role":"user"}`, 409},
		{"common password", `{"username":"dave","password":"password1","role":"user"}`, 422},
		{"password equals username", `{"username":"davedavedave","password":"davedavedave","role":"user"}`, 422},
		{"unknown role", `{"username":"dave","password":"dave's long passphrase","role":"root"}`, 422},
		{"control character in username", `{"username":"da\u0007ve","password":"dave's long passphrase","role":"user"}`, 422},
		{"mass assignment: id", `{"id":"01a221f9-4e41-749c-b6ef-e3048ba0750f","username":"dave","password":"dave's long passphrase","role":"user"}`, 422},
		{"mass assignment: hash", `{"username":"dave","password":"dave's long passphrase","role":"user","password_hash":"$argon2id$x"}`, 422},
		{"mass assignment: disabled", `{"username":"dave","password":"dave's long passphrase","role":"user","disabled":false}`, 422},
		{"mass assignment: scopes", `{"username":"dave","password":"dave's long passphrase","role":"user","scopes":["keys:admin"]}`, 422},
		{"missing role", `{"username":"dave","password":"dave's long passphrase"}`, 422},
		{"not JSON", `username=dave`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.jsonCall("POST", "/users", admin, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if strings.Contains(string(b), "passphrase") || strings.Contains(string(b), "password1\"") {
				t.Errorf("the error echoes the password: %s", b)
			}
		})
	}
	if _, err := e.store.GetUserByName(t.Context(), "dave"); err == nil {
		t.Fatal("a refused request created dave")
	}

	// Listing pages through every user, without hashes.
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		resp, b := e.jsonCall("GET", "/users?limit=1&cursor="+cursor, admin, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		var page httpapi.UserPage
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			seen[u.Username] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 3 || !seen["alice"] || !seen["root"] || !seen["carol"] {
		t.Errorf("listed %v, want alice, root, carol", seen)
	}
	if resp, _ := e.jsonCall("GET", "/users?cursor=bm90LWEtY3Vyc29y", admin, ""); resp.StatusCode != 422 {
		t.Errorf("a forged cursor: %d, want 422", resp.StatusCode)
	}
}

func TestAdminPatchRevokesAtOnce(t *testing.T) {
	e := newAuthEnv(t)
	admin := e.login("root", adminPass).AccessToken
	alice, err := e.store.GetUserByName(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	root, err := e.store.GetUserByName(t.Context(), "root")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		loginAfter bool // alice can log in afterwards
		scope      string
	}{
		{"promote", `{"role":"admin"}`, 200, true, "items:read items:write users:admin keys:admin"},
		{"demote", `{"role":"user"}`, 200, true, "items:read items:write"},
		{"disable", `{"disabled":true}`, 200, false, ""},
		{"enable", `{"disabled":false}`, 200, true, "items:read items:write"},
		{"both at once", `{"role":"user","disabled":false}`, 200, true, "items:read items:write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// alice's credentials from before the change (a disabled
			// alice has none: her earlier ones were revoked).
			var tok httpapi.TokenResponse
			if u, _ := e.store.GetUser(t.Context(), alice.ID); !u.Disabled {
				tok = e.login("alice", alicePass)
			}
			resp, b := e.jsonCall("PATCH", "/users/"+alice.ID, admin, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			// The old access token and refresh token are dead at once.
			if tok.AccessToken != "" {
				if got := e.status("/protected", tok.AccessToken); got != 401 {
					t.Errorf("alice's old access token: %d, want 401", got)
				}
				if resp, _, _ := e.refresh(tok.RefreshToken); resp.StatusCode != 400 {
					t.Errorf("alice's old refresh token: %d, want 400", resp.StatusCode)
				}
			}
			resp, _ = e.tokenReq(map[string][]string{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}})
			if (resp.StatusCode == 200) != tc.loginAfter {
				t.Fatalf("alice's login after the change: %d, want success %v", resp.StatusCode, tc.loginAfter)
			}
			if tc.loginAfter {
				if got := e.login("alice", alicePass).Scope; got != tc.scope {
					t.Errorf("scopes after the change %q, want %q", got, tc.scope)
				}
			}
		})
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"last admin demotes itself", "/users/" + root.ID, `{"role":"user"}`, 409},
		{"last admin disables itself", "/users/" + root.ID, `{"disabled":true}`, 409},
		{"unknown user", "/users/01a221f9-4e41-749c-b6ef-e3048ba0750f", `{"disabled":true}`, 404},
		{"not an id", "/users/alice", `{"disabled":true}`, 422},
		{"nothing to change", "/users/" + alice.ID, `{}`, 422},
		{"mass assignment: username", "/users/" + alice.ID, `{"username":"mallory"}`, 422},
		{"mass assignment: password_hash", "/users/" + alice.ID, `{"password_hash":"x","role":"user"}`, 422},
		{"unknown role", "/users/" + alice.ID, `{"role":"superuser"}`, 422},
		{"null role", "/users/" + alice.ID, `{"role":null}`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.jsonCall("PATCH", tc.path, admin, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
	if got := e.status("/users/me", admin); got != 200 {
		t.Errorf("the refused changes to the last admin revoked its token: %d", got)
	}
}

func TestAdminAudit(t *testing.T) {
	e := newAuthEnv(t)
	admin := e.login("root", adminPass).AccessToken
	alice, err := e.store.GetUserByName(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := e.tokenReq(map[string][]string{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong password!"}})
	if resp.StatusCode != 400 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	e.login("alice", alicePass)
	if resp, b := e.jsonCall("PATCH", "/users/"+alice.ID, admin, `{"disabled":true}`); resp.StatusCode != 200 {
		t.Fatalf("disable: %d %s", resp.StatusCode, b)
	}

	page := func(query string) httpapi.EventPage {
		t.Helper()
		resp, b := e.jsonCall("GET", "/admin/audit"+query, admin, "")
		if resp.StatusCode != 200 {
			t.Fatalf("audit%s: %d %s", query, resp.StatusCode, b)
		}
		if strings.Contains(string(b), alicePass) || strings.Contains(string(b), "wrong password!") {
			t.Fatalf("the audit log holds a password: %s", b)
		}
		var p httpapi.EventPage
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	types := func(p httpapi.EventPage) []string {
		var out []string
		for _, ev := range p.Events {
			out = append(out, ev.Type)
		}
		return out
	}
	all := page("")
	if got := strings.Join(types(all), " "); !strings.HasPrefix(got, "user.disabled login.success login.failure login.success") {
		t.Errorf("newest events %q", got)
	}
	for _, ev := range page("?user_id=" + alice.ID).Events {
		if ev.UserID != alice.ID {
			t.Errorf("user filter let through %+v", ev)
		}
	}
	if got := types(page("?type=login.failure")); len(got) != 1 || got[0] != "login.failure" {
		t.Errorf("type filter: %q", got)
	}
	// Pages of one, newest first, cover everything exactly once.
	var paged []string
	cursor := ""
	for range 50 {
		p := page("?limit=1" + cursor)
		paged = append(paged, types(p)...)
		if p.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + p.NextCursor
	}
	if strings.Join(paged, " ") != strings.Join(types(all), " ") {
		t.Errorf("paged %q, all %q", paged, types(all))
	}
	if resp, b := e.jsonCall("GET", "/admin/audit?limit=500&type=login.success", admin, ""); resp.StatusCode != 200 {
		t.Errorf("the largest page: %d %s", resp.StatusCode, b)
	}
	for _, q := range []string{"?cursor=abc", "?cursor=-1", "?limit=0", "?limit=501", "?user_id=alice", "?type=DROP%20TABLE", "?type=" + strings.Repeat("a", 65)} {
		if resp, b := e.jsonCall("GET", "/admin/audit"+q, admin, ""); resp.StatusCode != 422 {
			t.Errorf("audit%s: %d, want 422: %s", q, resp.StatusCode, b)
		}
	}
}
