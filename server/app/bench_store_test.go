package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/server"
)

// BenchmarkStoreCost measures, in process (httptest, no network or TLS),
// one request of each kind through the whole server on each store: login
// (dominated by the password hash, the same on both), token refresh, GET
// and POST of an item. The difference between the stores is the store's
// cost per request.
//
//	go test -run '^$' -bench StoreCost -benchtime 2s ./server/app/
func BenchmarkStoreCost(b *testing.B) {
	stores := []struct {
		name string
		cfg  func(b *testing.B) StoreConfig
	}{
		{"sqlite", func(b *testing.B) StoreConfig {
			return StoreConfig{SQLitePath: filepath.Join(b.TempDir(), "bench.db")}
		}},
		{"postgres", func(b *testing.B) StoreConfig { return StoreConfig{PostgresURL: pgtest.SchemaURL(b, "on")} }},
		{"postgres-async-commit", func(b *testing.B) StoreConfig { return StoreConfig{PostgresURL: pgtest.SchemaURL(b, "off")} }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			ctx := context.Background()
			limits := DefaultLimits()
			limits.Scale = 10_000
			k := make([]byte, 32)
			_, _ = rand.Read(k)
			a, err := New(ctx, Config{Store: st.cfg(b), MasterKey: k, Limits: limits, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { a.Close() })
			const pw = "a long enough bench passphrase"
			if _, err := a.Auth().CreateUser(ctx, "bench", pw, server.RoleUser, "bench"); err != nil {
				b.Fatal(err)
			}
			h := a.Handler()
			send := func(b *testing.B, method, path, token, ctype, body string, want int) string {
				req := httptest.NewRequest(method, path, strings.NewReader(body))
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != want {
					b.Fatalf("%s %s: %d %.300s", method, path, rec.Code, rec.Body.String())
				}
				return rec.Body.String()
			}
			const form = "application/x-www-form-urlencoded"
			loginForm := url.Values{"grant_type": {"password"}, "username": {"bench"}, "password": {pw}}.Encode()
			var tr struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.Unmarshal([]byte(send(b, "POST", "/token", "", form, loginForm, 200)), &tr); err != nil {
				b.Fatal(err)
			}
			var it struct{ ID string }
			if err := json.Unmarshal([]byte(send(b, "POST", "/items/", tr.AccessToken, "application/json", `{"name":"bench","price":1.5}`, 201)), &it); err != nil {
				b.Fatal(err)
			}
			b.Run("login", func(b *testing.B) {
				for b.Loop() {
					send(b, "POST", "/token", "", form, loginForm, 200)
				}
			})
			b.Run("refresh", func(b *testing.B) {
				// A chain of its own: refresh tokens are single use, and
				// replaying one (a second run) would revoke the session.
				var own struct {
					RefreshToken string `json:"refresh_token"`
				}
				if err := json.Unmarshal([]byte(send(b, "POST", "/token", "", form, loginForm, 200)), &own); err != nil {
					b.Fatal(err)
				}
				rt := own.RefreshToken
				for b.Loop() {
					var next struct {
						RefreshToken string `json:"refresh_token"`
					}
					body := send(b, "POST", "/token", "", form, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), 200)
					if err := json.Unmarshal([]byte(body), &next); err != nil {
						b.Fatal(err)
					}
					rt = next.RefreshToken
				}
			})
			b.Run("get-item", func(b *testing.B) {
				for b.Loop() {
					send(b, "GET", "/items/"+it.ID, tr.AccessToken, "", "", 200)
				}
			})
			b.Run("post-item", func(b *testing.B) {
				for b.Loop() {
					send(b, "POST", "/items/", tr.AccessToken, "application/json", `{"name":"bench","price":1.5}`, 201)
				}
			})
		})
	}
}
