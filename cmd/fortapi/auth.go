package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/secret"
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

// masterKeyEnv names the master key's environment variable; its _FILE
// variant names a file holding it (container and orchestrator secrets).
const masterKeyEnv = "FORTAPI_MASTER_KEY"

// loadMasterKey returns the 32-byte key that seals signing keys at rest,
// and where it came from: FORTAPI_MASTER_KEY (64 hex digits or base64 of
// 32 bytes), the file named by FORTAPI_MASTER_KEY_FILE (same format, one
// trailing newline ignored), or a development key generated with
// crypto/rand and kept in DATA-DIR/secrets/master.key (mode 0600, base64)
// — created only when create is set. Errors name the source, never the
// value.
func loadMasterKey(dataDir string, getenv func(string) string, create bool) (key secret.Secret, l secret.Loaded, err error) {
	l, err = secret.FromEnv(getenv, masterKeyEnv)
	if errors.Is(err, secret.ErrNotSet) {
		p := filepath.Join(dataDir, masterKeyFile)
		if !create {
			if _, err := os.Stat(p); err != nil {
				return secret.Secret{}, l, fmt.Errorf("no %s or %s%s, and %w", masterKeyEnv, masterKeyEnv, secret.FileSuffix, err)
			}
		}
		l, err = secret.LoadOrGenerate(p, jwtkey.MasterKeySize, secret.GenerateOptions{})
	}
	if err != nil {
		return secret.Secret{}, l, err
	}
	if l.Kind == secret.KindGenerated { // LoadOrGenerate decodes the file
		return l.Secret, l, nil
	}
	key, err = secret.DecodeKey(l.Secret, jwtkey.MasterKeySize)
	if err != nil {
		return secret.Secret{}, l, fmt.Errorf("%s: %w", l.Source, err)
	}
	return key, l, nil
}

// authStack is everything authentication needs, built on one store.
type authStack struct {
	keys   *jwtkey.Ring
	tokens *token.Service
	revs   *token.Revocations
	hasher *password.Hasher
	svc    *authn.Service
	// masterKey says where the master key came from (its Secret is the
	// text as loaded, for production checks).
	masterKey secret.Loaded
	// csrfKey signs CSRF tokens: HMAC-SHA256(master key, csrfKeyLabel),
	// so it changes with the master key and needs no secret of its own.
	csrfKey []byte
}

// csrfKeyLabel derives the CSRF key from the master key.
const csrfKeyLabel = "fortapi csrf token key v1"

// refreshKeyLabel derives the refresh-successor key (authn.Options.
// RefreshKey) from the master key, as the CSRF key is: every instance
// sharing the master key derives the same successors.
const refreshKeyLabel = "fortapi refresh successor key v1"

// deviceKeyLabel derives the key of login device credentials
// (authn.Options.DeviceKey) from the master key, as csrfKeyLabel does:
// every instance sharing the master key trusts the same devices, and
// rotating the master key makes every device credential worthless.
const deviceKeyLabel = "fortapi device credential key v1"

// deriveKey is HMAC-SHA256(master, label): a 32-byte key for one purpose.
func deriveKey(master []byte, label string) []byte {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// openAuth builds the authentication stack on store: the key ring (sealed
// with the master key), the token service, the revocation checker, the
// bounded password hasher and the login service, whose options each of
// svcOpts may add to (serve: the failed-login limit).
func openAuth(ctx context.Context, dataDir string, store *sqlite.Store, getenv func(string) string, log *slog.Logger, createKey bool, svcOpts ...func(*authn.Options)) (*authStack, error) {
	mk, loaded, err := loadMasterKey(dataDir, getenv, createKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	log.Info("master key loaded", "source", loaded.Source, "kind", loaded.Kind.String(), "created", loaded.Created)
	for _, w := range loaded.Warnings {
		log.Warn("master key: " + w)
	}
	ring, err := jwtkey.Open(ctx, jwtkey.Options{
		MasterKey: mk.Reveal(), Store: store, MaxTokenLifetime: accessLifetime, Leeway: tokenLeeway, Logger: log,
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
	hasher, err := password.NewHasher(password.HasherOptions{MaxConcurrent: loginConcurrency()})
	if err != nil {
		return nil, err
	}
	so := authn.Options{
		Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		AccessLifetime: accessLifetime, Leeway: tokenLeeway, Logger: log,
		RefreshKey: deriveKey(mk.Reveal(), refreshKeyLabel),
		DeviceKey:  deriveKey(mk.Reveal(), deviceKeyLabel),
	}
	for _, f := range svcOpts {
		f(&so)
	}
	svc, err := authn.New(so)
	if err != nil {
		return nil, err
	}
	return &authStack{keys: ring, tokens: tokens, revs: revs, hasher: hasher, svc: svc, masterKey: loaded,
		csrfKey: deriveKey(mk.Reveal(), csrfKeyLabel)}, nil
}

// loginConcurrency is how many password hashes the server runs at once:
// half the CPUs, at least one. A login flood then keeps the other half for
// the rest of the API (the library's default, GOMAXPROCS, lets logins take
// every core: measured on 2 cores, GET /protected's p99 rose 4.3x under a
// flood of wrong-password logins).
func loginConcurrency() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// adminPasswordEnv names the first administrator's password variable;
// its _FILE variant names a file holding it.
const adminPasswordEnv = "FORTAPI_ADMIN_PASSWORD"

// adminPassword returns the first administrator's password from
// FORTAPI_ADMIN_PASSWORD or the file FORTAPI_ADMIN_PASSWORD_FILE (one
// trailing newline removed), or "" (generate one), and warnings to log
// (a file others may read).
func adminPassword(getenv func(string) string) (pw string, warnings []string, err error) {
	l, err := secret.FromEnv(getenv, adminPasswordEnv)
	if errors.Is(err, secret.ErrNotSet) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return l.Secret.RevealString(), l.Warnings, nil
}
