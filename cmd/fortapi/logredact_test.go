package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/e2e"
)

// TestLogsHoldNoSecrets runs a login, a refresh, a logout, a failed login
// and a replayed refresh token against the real server at debug level, in
// both log formats, and finds neither a password nor any token (or any
// recognisable piece of one) in anything written to stderr.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const adminPW = "correct horse battery staple 4 logs"
	const wrongPW = "Tr0ub4dor&3-not-the-password"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": adminPW},
				"--log-level", "debug", "--log-format", format)
			c := e2e.TLSClient(t, dir, nil)
			var secrets []string

			code, first, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}})
			if code != 200 || first.AccessToken == "" || first.RefreshToken == "" {
				t.Fatalf("login: %d %s", code, body)
			}
			secrets = append(secrets, first.AccessToken, first.RefreshToken)

			code, second, body := postToken(t, c, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
			if code != 200 || second.RefreshToken == "" {
				t.Fatalf("refresh: %d %s", code, body)
			}
			secrets = append(secrets, second.AccessToken, second.RefreshToken)

			// Tokens where clients should not put them: in the query.
			if got, b := getWith(t, c, s.url+"/protected", second.AccessToken); got != 200 {
				t.Fatalf("/protected: %d %s", got, b)
			}
			// Tokens where clients should not put them: in the query
			// (refused, and logged).
			for _, path := range []string{"/protected", "/nope"} {
				q := "?access_token=" + url.QueryEscape(second.AccessToken) + "&refresh_token=" + url.QueryEscape(second.RefreshToken) + "&password=" + url.QueryEscape(adminPW)
				if got, b := getWith(t, c, s.url+path+q, "nonsense"); got/100 != 4 {
					t.Fatalf("%s with tokens in the query: %d %s", path, got, b)
				}
			}
			// An API key: created, used in both headers, refused where
			// not declared, put where it must never go (the query, the
			// path: refused with 400), mistyped, revoked.
			resp, b := send(t, c, "POST", s.url+"/users/me/api-keys", map[string]string{"Authorization": "Bearer " + second.AccessToken,
				"Content-Type": "application/json"}, `{"name":"logs","scopes":["items:read"]}`)
			var created struct{ ID, Key string }
			if resp.StatusCode != 201 || json.Unmarshal([]byte(b), &created) != nil || !strings.HasPrefix(created.Key, "fak_") {
				t.Fatalf("creating an API key: %d %s", resp.StatusCode, b)
			}
			key := created.Key
			secrets = append(secrets, key, key[len("fak_")+17:len(key)-6])
			typo := key[:30] + map[bool]string{true: "B", false: "A"}[key[30] == 'A'] + key[31:]
			for _, tc := range []struct {
				method, path string
				hdr          map[string]string
				want         int
			}{
				{"GET", "/items/", map[string]string{"X-API-Key": key}, 200},
				{"GET", "/protected", map[string]string{"Authorization": "Bearer " + key}, 200},
				{"GET", "/users/me", map[string]string{"X-API-Key": key}, 401},
				{"GET", "/items/", map[string]string{"X-API-Key": typo}, 401},
				{"GET", "/items/?api_key=" + key, nil, 400},
				{"GET", "/items/?x=1&key=" + url.QueryEscape(key), map[string]string{"X-API-Key": key}, 400},
				{"GET", "/items/" + key, nil, 400},
				{"GET", "/nope/" + key + "/x", nil, 400},
			} {
				if resp, b := send(t, c, tc.method, s.url+tc.path, tc.hdr, ""); resp.StatusCode != tc.want || strings.Contains(b, key) {
					t.Fatalf("%s %s with the key: %d, want %d: %s", tc.method, tc.path[:min(len(tc.path), 20)], resp.StatusCode, tc.want, b)
				}
			}
			if resp, b := send(t, c, "DELETE", s.url+"/users/me/api-keys/"+created.ID, map[string]string{"Authorization": "Bearer " + second.AccessToken}, ""); resp.StatusCode != 204 {
				t.Fatalf("revoking the key: %d %s", resp.StatusCode, b)
			}
			if resp, _ := send(t, c, "GET", s.url+"/items/", map[string]string{"X-API-Key": key}, ""); resp.StatusCode != 401 {
				t.Fatalf("the revoked key: %d", resp.StatusCode)
			}

			resp, _ = send(t, c, "POST", s.url+"/logout", map[string]string{"Authorization": "Bearer " + second.AccessToken}, "")
			if resp.StatusCode/100 != 2 {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			// After logout the token is refused (and the refusal logged).
			if got, _ := getWith(t, c, s.url+"/protected", second.AccessToken); got != 401 {
				t.Fatalf("/protected after logout: %d", got)
			}
			// Replaying a rotated refresh token: refused, family revoked.
			if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}); code != 400 {
				t.Fatalf("replayed refresh: %d %s", code, body)
			}
			if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {wrongPW}}); code != 400 {
				t.Fatalf("failed login: %d %s", code, body)
			}
			secrets = append(secrets, adminPW, wrongPW)
			if code := s.stop(); code != 0 {
				t.Fatalf("exit %d", code)
			}

			log := s.log.String()
			if !strings.Contains(log, "/token") || !strings.Contains(log, "/logout") {
				t.Fatalf("the requests are not logged, so the test proves nothing:\n%.3000s", log)
			}
			for _, sec := range secrets {
				pieces := []string{sec}
				if parts := strings.Split(sec, "."); len(parts) == 3 { // a JWT: no part of it either
					pieces = append(pieces, parts[1], parts[2])
				}
				for _, p := range pieces {
					if strings.Contains(log, p) || strings.Contains(log, url.QueryEscape(p)) {
						t.Errorf("the log holds a secret (%.12s...):\n%s", p, lineWith(log, p))
					}
				}
			}
			if strings.Contains(log, "fak_") {
				t.Errorf("the log holds something shaped like an API key:\n%s", lineWith(log, "fak_"))
			}
			if strings.Contains(log, "eyJ") {
				t.Errorf("the log holds something shaped like a JWT:\n%s", lineWith(log, "eyJ"))
			}
		})
	}
}

func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestNewLoggerRedacts: the server's logger itself redacts, in both
// formats, whatever the code that logs gets wrong.
func TestNewLoggerRedacts(t *testing.T) {
	const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	const pw = "hunter2-is-my-password"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf strings.Builder
			log := newLogger(&buf, format, slog.LevelDebug)
			log.Info("login for admin with Bearer "+jwt, "password", pw, "refresh_token", "opaque-refresh-value",
				"authorization", "Basic YWRtaW46aHVudGVyMg==", "query", "grant_type=password&password="+pw,
				"error", errors.New("bad token "+jwt), "user", "admin")
			log.WithGroup("request").Debug("headers", "Cookie", "__Host-session=abcdefabcdef", "Set-Cookie", "s=v")
			out := buf.String()
			for _, leak := range []string{jwt, pw, "opaque-refresh-value", "YWRtaW46aHVudGVyMg", "abcdefabcdef", "eyJ"} {
				if strings.Contains(out, leak) {
					t.Errorf("%q reached the log:\n%s", leak, out)
				}
			}
			if !strings.Contains(out, "admin") || !strings.Contains(out, "[REDACTED]") {
				t.Errorf("harmless attributes lost or nothing redacted:\n%s", out)
			}
		})
	}
}
