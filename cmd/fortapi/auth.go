package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// The token contract of the reference server.
const (
	tokenIssuer    = "fortapi"
	tokenAudience  = "fortapi-api"
	accessLifetime = 15 * time.Minute
	tokenLeeway    = 30 * time.Second
)

// masterKeyFile is where a generated master key is kept, under the data dir.
const masterKeyFile = "secrets/master.key"

// loadMasterKey returns the 32-byte key that seals signing keys at rest:
// from FORTAPI_MASTER_KEY (64 hex digits or base64 of 32 bytes), from the
// file named by FORTAPI_MASTER_KEY_FILE, or generated with crypto/rand and
// kept in DATA-DIR/secrets/master.key (mode 0600) for development. It says
// which in the returned source.
func loadMasterKey(dataDir string, getenv func(string) string, create bool) (key []byte, source string, err error) {
	if v := getenv("FORTAPI_MASTER_KEY"); v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, "", fmt.Errorf("FORTAPI_MASTER_KEY: %w", err)
		}
		return k, "FORTAPI_MASTER_KEY", nil
	}
	if p := getenv("FORTAPI_MASTER_KEY_FILE"); p != "" {
		k, err := readKeyFile(p)
		if err != nil {
			return nil, "", fmt.Errorf("FORTAPI_MASTER_KEY_FILE: %w", err)
		}
		return k, p, nil
	}
	p := filepath.Join(dataDir, masterKeyFile)
	k, err := readKeyFile(p)
	if err == nil {
		return k, p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, "", err
	}
	k = make([]byte, jwtkey.MasterKeySize)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		k, err := readKeyFile(p)
		return k, p, err
	}
	if err != nil {
		return nil, "", err
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fmt.Errorf("writing %s: %w", p, err)
	}
	return k, p + " (generated)", nil
}

func readKeyFile(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	k, err := decodeKey(string(bytes.TrimRight(b, "\r\n")))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return k, nil
}

// decodeKey reads 32 bytes written as 64 hex digits or as base64.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == jwtkey.MasterKeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == jwtkey.MasterKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d bytes as 64 hex digits or base64", jwtkey.MasterKeySize)
}

// authStack is everything authentication needs, built on one store.
type authStack struct {
	keys   *jwtkey.Ring
	tokens *token.Service
	revs   *token.Revocations
	hasher *password.Hasher
	svc    *authn.Service
}

// openAuth builds the authentication stack on store: the key ring (sealed
// with the master key), the token service, the revocation checker, the
// bounded password hasher and the login service, whose options each of
// svcOpts may add to (serve: the failed-login limit).
func openAuth(ctx context.Context, dataDir string, store *sqlite.Store, getenv func(string) string, log *slog.Logger, createKey bool, svcOpts ...func(*authn.Options)) (*authStack, error) {
	mk, src, err := loadMasterKey(dataDir, getenv, createKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	log.Info("master key loaded", "source", src)
	ring, err := jwtkey.Open(ctx, jwtkey.Options{
		MasterKey: mk, Store: store, MaxTokenLifetime: accessLifetime, Leeway: tokenLeeway, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{MaxTokenAge: accessLifetime + tokenLeeway})
	tokens, err := token.New(token.Options{
		Issuer: tokenIssuer, Audience: tokenAudience, Keys: ring,
		Lifetime: accessLifetime, Leeway: tokenLeeway, Revocations: revs,
	})
	if err != nil {
		return nil, err
	}
	hasher, err := password.NewHasher(password.HasherOptions{})
	if err != nil {
		return nil, err
	}
	so := authn.Options{
		Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		AccessLifetime: accessLifetime, Leeway: tokenLeeway, Logger: log,
	}
	for _, f := range svcOpts {
		f(&so)
	}
	svc, err := authn.New(so)
	if err != nil {
		return nil, err
	}
	return &authStack{keys: ring, tokens: tokens, revs: revs, hasher: hasher, svc: svc}, nil
}

// loginConcurrency is how many password hashes the server runs at once:
// half the CPUs, at least one. A login flood then keeps the other half for
// the rest of the API (the library's default, GOMAXPROCS, lets logins take
// every core: measured on 2 cores, GET /protected's p99 rose 4.3x under a
// flood of wrong-password logins).
func loginConcurrency() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// adminPassword returns the first administrator's password from
// FORTAPI_ADMIN_PASSWORD or the file FORTAPI_ADMIN_PASSWORD_FILE, or ""
// (generate one).
func adminPassword(getenv func(string) string) (string, error) {
	if v := getenv("FORTAPI_ADMIN_PASSWORD"); v != "" {
		return v, nil
	}
	if p := getenv("FORTAPI_ADMIN_PASSWORD_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("FORTAPI_ADMIN_PASSWORD_FILE: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("FORTAPI_ADMIN_PASSWORD_FILE: %s is empty", p)
		}
		return pw, nil
	}
	return "", nil
}
