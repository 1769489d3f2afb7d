package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/secret"
)

func TestLoadMasterKey(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b64 := base64.StdEncoding.EncodeToString(key)
	files := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private.key", b64+"\n", 0o600)
	shared := write("shared.key", hex.EncodeToString(key)+"\r\n", 0o644)
	short := write("short.key", "c2hvcnQ=\n", 0o600)
	for _, tt := range []struct {
		name     string
		env      map[string]string
		existing string // content of DATA-DIR/secrets/master.key, written before
		create   bool
		kind     secret.Kind
		warn     string
		err      string
	}{
		{name: "hex in the environment", env: map[string]string{"FORTAPI_MASTER_KEY": hex.EncodeToString(key)}, kind: secret.KindEnv},
		{name: "base64 in the environment", env: map[string]string{"FORTAPI_MASTER_KEY": b64}, kind: secret.KindEnv},
		{name: "file", env: map[string]string{"FORTAPI_MASTER_KEY_FILE": private}, kind: secret.KindFile},
		{name: "file readable by others", env: map[string]string{"FORTAPI_MASTER_KEY_FILE": shared}, kind: secret.KindFile, warn: shared},
		{name: "both set", env: map[string]string{"FORTAPI_MASTER_KEY": b64, "FORTAPI_MASTER_KEY_FILE": private}, err: "FORTAPI_MASTER_KEY"},
		{name: "not a key", env: map[string]string{"FORTAPI_MASTER_KEY": "not-a-key-but-a-passphrase"}, err: "$FORTAPI_MASTER_KEY"},
		{name: "short file", env: map[string]string{"FORTAPI_MASTER_KEY_FILE": short}, err: short},
		{name: "missing file", env: map[string]string{"FORTAPI_MASTER_KEY_FILE": filepath.Join(files, "nope")}, err: "nope"},
		{name: "kept from an earlier version", existing: b64 + "\n", kind: secret.KindGenerated},
		{name: "kept, not created without create", existing: b64 + "\n", create: false, kind: secret.KindGenerated},
		{name: "generated", create: true, kind: secret.KindGenerated},
		{name: "not generated without create", create: false, err: "no FORTAPI_MASTER_KEY or FORTAPI_MASTER_KEY_FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.existing != "" {
				p := filepath.Join(dir, masterKeyFile)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, l, err := loadMasterKey(dir, env(tt.env), tt.create)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %q", err, tt.err)
				}
				for _, v := range []string{b64, hex.EncodeToString(key), "not-a-key-but-a-passphrase", "c2hvcnQ"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("the error holds the value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != tt.kind {
				t.Errorf("kind %v, want %v", l.Kind, tt.kind)
			}
			if got.Len() != 32 {
				t.Fatalf("key of %d bytes", got.Len())
			}
			if tt.kind != secret.KindGenerated || tt.existing != "" {
				if !bytes.Equal(got.Reveal(), key) {
					t.Error("a different key")
				}
			}
			if tt.warn != "" && (len(l.Warnings) == 0 || !strings.Contains(strings.Join(l.Warnings, " "), tt.warn)) {
				t.Errorf("warnings %q, want one about %s", l.Warnings, tt.warn)
			}
			if tt.warn == "" && len(l.Warnings) != 0 {
				t.Errorf("unexpected warnings %q", l.Warnings)
			}
			if tt.kind == secret.KindGenerated {
				st, err := os.Stat(filepath.Join(dir, masterKeyFile))
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Fatalf("master.key: %v %v", st, err)
				}
				again, _, err := loadMasterKey(dir, env(nil), false)
				if err != nil || !again.Equal(got) {
					t.Errorf("the kept key is not reused: %v", err)
				}
			}
		})
	}
}

// TestMasterKeyFileWarningLogged: serve logs the warning about a key file
// others may read, and keeps the key out of the log.
func TestMasterKeyFileWarningLogged(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	p := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(key)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(p, 0o644)
	dir := t.TempDir()
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_MASTER_KEY_FILE": p})
	s.stop()
	log := s.log.String()
	if !strings.Contains(log, `"level":"WARN","msg":"master key: `) || !strings.Contains(log, p) {
		t.Errorf("no warning about %s:\n%s", p, log)
	}
	if strings.Contains(log, hex.EncodeToString(key)) {
		t.Error("the key is in the log")
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
		t.Error("a master key was generated although FORTAPI_MASTER_KEY_FILE is set")
	}
}
