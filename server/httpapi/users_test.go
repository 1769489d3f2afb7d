package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// problemDetail is the first field error of a problem+json answer.
func problemDetail(t *testing.T, b []byte) (title, location, message string) {
	t.Helper()
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, b)
	}
	if len(p.Errors) == 0 {
		return p.Detail, "", ""
	}
	return p.Detail, p.Errors[0].Location, p.Errors[0].Message
}

func userBody(t *testing.T, name string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"username": name, "password": "a long enough passphrase", "role": "user"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCreateUserRefusesSpoofedNames: the spellings that made a second
// "root" (or an unreadable name) are refused with 422 and a message that
// names the character; those that are root once normalized are 409.
func TestCreateUserRefusesSpoofedNames(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	admin := e.login("root", adminPass).AccessToken
	for _, tc := range []struct {
		name, username, message string
	}{
		{"Cyrillic o", "r\u043e\u043et", "the username mixes Latin and Cyrillic letters (U+043E)"},
		{"Greek omicron", "r\u03bfot", "the username mixes Latin and Greek letters (U+03BF)"},
		{"zero-width space", "root\u200b", "the username contains the invisible character U+200B"},
		{"zero-width joiner", "ro\u200dot", "the username contains the invisible character U+200D"},
		{"zero-width non-joiner", "ro\u200cot", "the username contains the invisible character U+200C"},
		{"word joiner", "ro\u2060ot", "the username contains the invisible character U+2060"},
		{"BOM", "\ufeffroot", "the username contains the invisible character U+FEFF"},
		{"soft hyphen", "ro\u00adot", "the username contains the invisible character U+00AD"},
		{"right-to-left override", "\u202etoor", "the username contains the bidirectional control character U+202E"},
		{"right-to-left isolate", "ro\u2067ot", "the username contains the bidirectional control character U+2067"},
		{"left-to-right mark", "root\u200e", "the username contains the bidirectional control character U+200E"},
		{"Arabic letter mark", "root\u061c", "the username contains the bidirectional control character U+061C"},
		{"leading space", " root", "the username starts or ends with a space (U+0020)"},
		{"trailing space", "root ", "the username starts or ends with a space (U+0020)"},
		{"inner space", "ro ot", "the username contains a space (U+0020)"},
		{"control character", "ro\u0007ot", "the username contains the control character U+0007"},
		{"leading combining mark", "\u0301root", "the username starts with a combining mark (U+0301)"},
		{"stacked combining marks", "ro\u0301\u0302\u0303\u0304ot", "the username stacks more than 2 combining marks on one character (U+0304)"},
		{"emoji", "root😀", "the username contains U+1F600, which RFC 8265 usernames do not allow"},
		{"too long once normalized", strings.Repeat("é", 33), "the username is 66 bytes once normalized (RFC 8265), longer than 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.jsonCall("POST", "/users", admin, userBody(t, tc.username))
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422: %s", resp.StatusCode, b)
			}
			_, loc, msg := problemDetail(t, b)
			if loc != "body.username" || !strings.HasPrefix(msg, tc.message) {
				t.Errorf("error at %q: %q; want body.username: %q", loc, msg, tc.message)
			}
			if strings.ContainsAny(string(b), "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u2067\u200e\u061c") {
				t.Errorf("the answer echoes the invisible character: %+q", b)
			}
		})
	}
	for _, tc := range []struct{ name, username, detail string }{
		{"upper case", "ROOT", `the username is taken: "ROOT" is "root" once normalized (RFC 8265)`},
		{"fullwidth", "ｒｏｏｔ", `the username is taken: "ｒｏｏｔ" is "root" once normalized (RFC 8265)`},
		{"fullwidth upper case", "ＲＯＯＴ", `the username is taken: "ＲＯＯＴ" is "root" once normalized (RFC 8265)`},
		{"exact", "root", "the username is taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.jsonCall("POST", "/users", admin, userBody(t, tc.username))
			if resp.StatusCode != http.StatusConflict {
				t.Fatalf("%d, want 409: %s", resp.StatusCode, b)
			}
			if detail, _, _ := problemDetail(t, b); detail != tc.detail {
				t.Errorf("detail %q, want %q", detail, tc.detail)
			}
		})
	}
	// Nothing was created; a new name is stored in its canonical form.
	resp, b := e.jsonCall("GET", "/users?limit=100", admin, "")
	var page httpapi.UserPage
	if resp.StatusCode != 200 || json.Unmarshal(b, &page) != nil || len(page.Users) != 2 {
		t.Fatalf("users after the refusals: %d %s", resp.StatusCode, b)
	}
	resp, b = e.jsonCall("POST", "/users", admin, userBody(t, "ＤａＶｅ"))
	var dave httpapi.UserInfo
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &dave) != nil || dave.Username != "dave" {
		t.Fatalf("create ＤａＶｅ: %d %s, want 201 as dave", resp.StatusCode, b)
	}
}

// TestLoginFindsCanonicalSpellings: any spelling of an account's
// canonical name signs in; a spelling without a canonical form is an
// unknown user, answered exactly like one; the audit log shows a
// right-to-left override escaped.
func TestLoginFindsCanonicalSpellings(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	for _, spelling := range []string{"ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"} {
		e.login(spelling, alicePass)
	}
	attempt := func(user string) (int, string) {
		t.Helper()
		resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {user}, "password": {alicePass}})
		return resp.StatusCode, string(b)
	}
	unknownStatus, unknown := attempt("nobody")
	if unknownStatus != 400 {
		t.Fatalf("unknown user: %d %s", unknownStatus, unknown)
	}
	for _, spelling := range []string{"alice\u200b", "\u0430lice", " alice", "alice ", "\u202ealice", "al\u00adice"} {
		if status, body := attempt(spelling); status != unknownStatus || body != unknown {
			t.Errorf("login as %+q with alice's password: %d %s; want the unknown user's answer %d %s", spelling, status, body, unknownStatus, unknown)
		}
	}
	admin := e.login("root", adminPass).AccessToken
	resp, b := e.jsonCall("GET", "/admin/audit?type=login.failure&limit=100", admin, "")
	if resp.StatusCode != 200 {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	if strings.ContainsAny(string(b), "\u202e\u200b\u00ad") {
		t.Errorf("the audit log holds an invisible or bidirectional control character: %+q", b)
	}
	if !strings.Contains(string(b), `"username":"\\u202ealice"`) {
		t.Errorf("the audit log does not show the override escaped: %s", b)
	}
}

// TestDistinctUsersNeverShareAThrottleBucket: failures against one account
// never slow down another. Each pair below is two names an older server
// stored as two users whose throttle keys (Unicode lower case) were one;
// now either the second name is refused, or the two accounts keep apart.
func TestDistinctUsersNeverShareAThrottleBucket(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	admin := e.login("root", adminPass).AccessToken
	const pw = "a long enough passphrase"
	for i, pair := range [][2]string{
		{"Ärger", "ärger"},       // ASCII-only case folding kept them apart in the store
		{"\u212a" + "ay", "kay"}, // Kelvin sign
		{"ΣΑΣ", "σας"},           // final sigma
		{"İpek", "i̇pek"},        // dotted capital I
	} {
		t.Run(pair[1], func(t *testing.T) {
			var created []string
			for _, name := range pair {
				resp, b := e.jsonCall("POST", "/users", admin, userBody(t, name))
				switch resp.StatusCode {
				case http.StatusCreated:
					var u httpapi.UserInfo
					if err := json.Unmarshal(b, &u); err != nil {
						t.Fatal(err)
					}
					created = append(created, name)
				case http.StatusConflict, http.StatusUnprocessableEntity:
					// One account, or none: nothing to share.
				default:
					t.Fatalf("create %+q: %d %s", name, resp.StatusCode, b)
				}
			}
			if len(created) < 2 {
				return
			}
			victim, other := created[0], created[1]
			wrong := url.Values{"grant_type": {"password"}, "username": {victim}, "password": {fmt.Sprintf("wrong guess %d", i)}}
			// The free failures, and one that starts the delay.
			for range authn.DefaultFreeFailures + 1 {
				if resp, b := e.tokenReq(wrong); resp.StatusCode != 400 {
					t.Fatalf("wrong password for %+q: %d %s", victim, resp.StatusCode, b)
				}
			}
			if resp, _ := e.tokenReq(wrong); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("%+q is not throttled after %d failures: %d", victim, authn.DefaultFreeFailures+1, resp.StatusCode)
			}
			resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {other}, "password": {pw}})
			if resp.StatusCode != 200 {
				t.Errorf("%+q and %+q are two users sharing one throttle bucket: %+q's login: %d %s", victim, other, other, resp.StatusCode, b)
			}
		})
	}
}
