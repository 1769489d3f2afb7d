package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/secret"
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

// masterKey loads the master key (loadMasterKey) and logs where it came
// from, never its value.
func masterKey(dataDir string, getenv func(string) string, log *slog.Logger, create bool) ([]byte, error) {
	mk, loaded, err := loadMasterKey(dataDir, getenv, create)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	log.Info("master key loaded", "source", loaded.Source, "kind", loaded.Kind.String(), "created", loaded.Created)
	for _, w := range loaded.Warnings {
		log.Warn("master key: " + w)
	}
	return mk.Reveal(), nil
}

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
