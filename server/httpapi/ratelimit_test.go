package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server/httpapi"
)

// tooMany checks a rate limiter's 429: problem+json, Retry-After of at
// least a second, the named policy exhausted.
func tooMany(t *testing.T, resp *http.Response, b []byte, policy string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %q, want a 429 problem: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(strings.Join(resp.Header.Values("RateLimit"), ","), `"`+policy+`";r=0;t=`) {
		t.Errorf("RateLimit %q does not show %s exhausted", resp.Header.Values("RateLimit"), policy)
	}
	if !strings.Contains(string(b), `"instance":"urn:fortapi:request:`) {
		t.Errorf("the problem does not name the request id: %s", b)
	}
}

func TestLoginLimitPerClientAddress(t *testing.T) {
	t.Parallel()
	e := newAuthEnvWith(t, envOptions{})
	// Ten a minute from one address, whatever the grant and outcome.
	for i := range 10 {
		resp, b := e.call("POST", "/token", form, "grant_type=client_credentials", nil)
		if resp.StatusCode != 400 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, b)
		}
		if got, want := resp.Header.Get("RateLimit"), `"login";r=`+strconv.Itoa(9-i)+`;t=`; !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit %q, want %s...", i+1, got, want)
		}
	}
	resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}})
	tooMany(t, resp, b, "login")
	if p := resp.Header.Get("RateLimit-Policy"); p != `"login";q=10;w=60` {
		t.Errorf("RateLimit-Policy %q", p)
	}
	// GCRA: one more every 6 seconds, no window edge to wait for.
	e.clock.Advance(6 * time.Second)
	e.login("alice", alicePass)
	resp, b = e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}})
	tooMany(t, resp, b, "login")
}

func TestFailedLoginsPerUsername(t *testing.T) {
	t.Parallel()
	e := newAuthEnvWith(t, envOptions{limits: httpapi.Limits{Login: "100/minute"}, failures: "5/minute"})
	attempt := func(user, pw string) (*http.Response, []byte) {
		return e.tokenReq(url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
	}
	// An existing and a nonexistent username, turn about.
	users := []string{"alice", "nobody-by-that-name"}
	for i := range 5 {
		for _, u := range users {
			if resp, b := attempt(u, "wrong-password"); resp.StatusCode != 400 || !strings.Contains(string(b), "invalid_grant") {
				t.Fatalf("%s failure %d: %d %s", u, i+1, resp.StatusCode, b)
			}
		}
	}
	// The sixth attempt is refused before the password is checked: even
	// the right one. Both usernames get the same answer.
	ra, ba := attempt("alice", alicePass)
	rn, bn := attempt("nobody-by-that-name", "wrong-password")
	for _, r := range []*http.Response{ra, rn} {
		if r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("sixth attempt: %d", r.StatusCode)
		}
	}
	if string(ba) != string(bn) || !strings.Contains(string(ba), `"error":"temporarily_unavailable"`) {
		t.Errorf("existing %s vs nonexistent %s", ba, bn)
	}
	sa, _ := strconv.Atoi(ra.Header.Get("Retry-After"))
	sn, _ := strconv.Atoi(rn.Header.Get("Retry-After"))
	if sa < 1 || sa > 12 || sn < 1 || sn > 12 || sa-sn > 1 || sn-sa > 1 {
		t.Errorf("Retry-After %d (existing) vs %d (nonexistent), want alike, 1 to 12", sa, sn)
	}
	// Other accounts are not affected.
	e.login("root", adminPass)
	// Not a lockout: a failure comes back every 12 seconds.
	e.clock.Advance(12 * time.Second)
	e.login("alice", alicePass)
}

func TestWrongCurrentPasswordsCountAsFailedLogins(t *testing.T) {
	t.Parallel()
	e := newAuthEnvWith(t, envOptions{failures: "5/minute"})
	tok := e.login("alice", alicePass).AccessToken
	change := func(current string) (*http.Response, []byte) {
		return e.call("PUT", "/users/me/password", "application/json",
			`{"current_password":"`+current+`","new_password":"an entirely new passphrase"}`, bearer(tok))
	}
	for i := range 5 {
		if resp, b := change("not the password"); resp.StatusCode != 422 {
			t.Fatalf("wrong current password %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	resp, b := change(alicePass)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after five wrong current passwords: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// The same allowance guards POST /token for the account.
	if resp, _ := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}); resp.StatusCode != 429 {
		t.Errorf("login after five wrong current passwords: %d", resp.StatusCode)
	}
}

// downLimiter is a failed-login limit whose store is down under
// FailClosed.
type downLimiter struct{}

func (downLimiter) Peek(context.Context, string) (ratelimit.Result, error) {
	return ratelimit.Result{RetryAfter: 2 * time.Second}, ratelimit.ErrUnavailable
}

func (downLimiter) Check(context.Context, string) (ratelimit.Result, error) {
	return ratelimit.Result{RetryAfter: 2 * time.Second}, ratelimit.ErrUnavailable
}

func TestFailedLoginLimitUnavailableFailsClosed(t *testing.T) {
	t.Parallel()
	e := newAuthEnvWith(t, envOptions{failureLimiter: downLimiter{}})
	resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(b), `"error":"temporarily_unavailable"`) {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// Refresh grants do not check passwords: they still work.
	// (No refresh token exists yet; the grant is refused for that reason.)
	if resp, _, oe := e.refresh(strings.Repeat("A", 43)); resp.StatusCode != 400 || oe.Error != "invalid_grant" {
		t.Errorf("refresh: %d %+v", resp.StatusCode, oe)
	}
}

func TestWritesAndReadsPerUser(t *testing.T) {
	t.Parallel()
	e := newAuthEnvWith(t, envOptions{limits: httpapi.Limits{Writes: "3/minute", Reads: "4/minute"}})
	alice := bearer(e.login("alice", alicePass).AccessToken)
	root := bearer(e.login("root", adminPass).AccessToken)
	// Three writes, shared by every write operation.
	resp, b := e.call("POST", "/items/", "application/json", `{"name":"a","price":1}`, alice)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var it httpapi.Item
	_ = json.Unmarshal(b, &it)
	if resp, b := e.call("PUT", "/items/"+it.ID, "application/json", `{"name":"b","price":2}`, alice); resp.StatusCode != 200 {
		t.Fatalf("update: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.call("DELETE", "/items/"+it.ID, "", "", alice); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/items/", `{"name":"c","price":1}`},
		{"POST", "/logout", ""},
		{"PUT", "/users/me/password", `{"current_password":"x","new_password":"yyyyyyyyyyyy"}`},
	} {
		ctype := ""
		if c.body != "" {
			ctype = "application/json"
		}
		resp, b := e.call(c.method, c.path, ctype, c.body, alice)
		tooMany(t, resp, b, "writes")
	}
	// The refused logout did not log alice out; reads have their own
	// allowance, shared by every read.
	for _, path := range []string{"/protected", "/users/me", "/items/", "/items/" + it.ID} {
		if resp, b := e.call("GET", path, "", "", alice); resp.StatusCode != 200 && resp.StatusCode != 404 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
	resp, b = e.call("GET", "/protected", "", "", alice)
	tooMany(t, resp, b, "reads")
	// Another user is not affected.
	if resp, b := e.call("POST", "/items/", "application/json", `{"name":"r","price":1}`, root); resp.StatusCode != 201 {
		t.Errorf("root's write after alice ran out: %d %s", resp.StatusCode, b)
	}
	if got := e.status("/protected", root["Authorization"][len("Bearer "):]); got != 200 {
		t.Errorf("root's read after alice ran out: %d", got)
	}
}

func TestEveryOperationDeclaresItsLimits(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler), GlobalLimit: "1200/minute"})
	httpapi.Register(api, httpapi.Deps{})
	if _, err := api.Handler(); err != nil {
		t.Fatal(err)
	}
	b, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Limits      []struct {
				Name, Limit, Key string
			} `json:"x-ratelimit"`
			Responses map[string]struct {
				Headers map[string]any `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"token":           "login 10/minute ip",
		"logout":          "writes 60/minute user",
		"protected":       "reads 600/minute user",
		"me":              "reads 600/minute user",
		"change-password": "writes 60/minute user",
		"rotate-keys":     "writes 60/minute user",
		"create-item":     "writes 60/minute user",
		"update-item":     "writes 60/minute user",
		"delete-item":     "writes 60/minute user",
		"list-items":      "reads 600/minute user",
		"get-item":        "reads 600/minute user",
		"create-user":     "writes 60/minute user",
		"update-user":     "writes 60/minute user",
		"list-users":      "reads 600/minute user",
		"audit":           "reads 600/minute user",
		// API keys count toward their user's limits (Principal.Subject).
		"create-api-key":      "writes 60/minute user",
		"list-api-keys":       "reads 600/minute user",
		"revoke-api-key":      "writes 60/minute user",
		"list-user-api-keys":  "reads 600/minute user",
		"revoke-user-api-key": "writes 60/minute user",
		"healthz":             "",
		"readyz":              "",
		"jwks":                "",
	}
	seen := 0
	for _, item := range doc.Paths {
		for _, op := range item {
			w, ok := want[op.OperationID]
			if !ok {
				t.Errorf("operation %s is not in the test's table", op.OperationID)
				continue
			}
			seen++
			var got []string
			for _, l := range op.Limits {
				got = append(got, l.Name+" "+l.Limit+" "+l.Key)
			}
			wantList := "global 1200/minute ip"
			if w != "" {
				wantList += "; " + w
			}
			if strings.Join(got, "; ") != wantList {
				t.Errorf("%s: x-ratelimit %q, want %q", op.OperationID, got, wantList)
			}
			if op.Responses["429"].Headers["Retry-After"] == nil || op.Responses["429"].Headers["RateLimit"] == nil {
				t.Errorf("%s: 429 not documented with its headers", op.OperationID)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d operations seen, want %d", seen, len(want))
	}
}
