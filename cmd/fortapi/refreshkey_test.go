package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
)

// TestInstancesShareOneRefreshChain: two instances on one store with one
// master key derive the same refresh key, so concurrent refreshes of one
// token that land on different instances get the same successor (one
// chain), and the refresh key is neither the master key nor the CSRF key.
func TestInstancesShareOneRefreshChain(t *testing.T) {
	ctx := context.Background()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == masterKeyEnv {
			return hex.EncodeToString(master)
		}
		return ""
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	instance := func() *authStack {
		store, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		st, err := openAuth(ctx, dir, store, getenv, slog.New(slog.DiscardHandler), false)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b := instance(), instance()

	refreshKey := deriveKey(master, refreshKeyLabel)
	if len(refreshKey) < authn.MinRefreshKeyBytes || bytes.Equal(refreshKey, a.csrfKey) || bytes.Equal(refreshKey, master) {
		t.Fatal("the refresh key is short, or equals the CSRF key or the master key")
	}

	const pw = "a long enough test passphrase"
	if _, err := a.svc.CreateUser(ctx, "shared", pw, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	tr, err := a.svc.Login(ctx, authn.Login{Username: "shared", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := a.svc.Refresh(ctx, tr.RefreshToken, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.svc.Refresh(ctx, tr.RefreshToken, nil, "")
	if err != nil {
		t.Fatalf("the concurrent refresh on the other instance: %v", err)
	}
	if ra.RefreshToken != rb.RefreshToken {
		t.Error("two instances answered one token's concurrent refreshes with different successors")
	}
}
