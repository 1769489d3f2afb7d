package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

func TestFromEnv(t *testing.T) {
	const val = "Zm9ydGFwaS10ZXN0LXNlY3JldC12YWx1ZQ"
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, bytes.Repeat([]byte("a"), MaxFileSize), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		vars     map[string]string
		want     string // secret; "" means an error is expected
		kind     Kind
		warn     string // substring of the only warning; "" for none
		errHas   []string
		errIs    error
		wantSize int
	}{
		{name: "env", vars: map[string]string{"K": val}, want: val, kind: KindEnv},
		{name: "env verbatim", vars: map[string]string{"K": " " + val + "\n"}, want: " " + val + "\n", kind: KindEnv},
		{name: "file", vars: map[string]string{"K_FILE": writeFile(t, "f", val, 0o600)}, want: val, kind: KindFile},
		{name: "file with newline", vars: map[string]string{"K_FILE": writeFile(t, "f", val+"\n", 0o600)}, want: val, kind: KindFile},
		{name: "file with CRLF", vars: map[string]string{"K_FILE": writeFile(t, "f", val+"\r\n", 0o600)}, want: val, kind: KindFile},
		{name: "only one newline trimmed", vars: map[string]string{"K_FILE": writeFile(t, "f", val+"\n\n", 0o600)}, want: val + "\n", kind: KindFile},
		{name: "other white space kept", vars: map[string]string{"K_FILE": writeFile(t, "f", " "+val+" \n", 0o400)}, want: " " + val + " ", kind: KindFile},
		{name: "world-readable", vars: map[string]string{"K_FILE": writeFile(t, "f", val, 0o644)}, want: val, kind: KindFile, warn: "mode 0644"},
		{name: "group-readable", vars: map[string]string{"K_FILE": writeFile(t, "f", val, 0o640)}, want: val, kind: KindFile, warn: "mode 0640"},
		{name: "size limit", vars: map[string]string{"K_FILE": exact}, kind: KindFile, wantSize: MaxFileSize},
		{name: "too big", vars: map[string]string{"K_FILE": big}, errHas: []string{"K_FILE", big, "65536"}},
		{name: "missing file", vars: map[string]string{"K_FILE": filepath.Join(dir, "nope")}, errHas: []string{"K_FILE", "nope", "no such file"}, errIs: fs.ErrNotExist},
		{name: "empty file", vars: map[string]string{"K_FILE": writeFile(t, "f", "", 0o600)}, errHas: []string{"K_FILE", "empty"}},
		{name: "only a newline", vars: map[string]string{"K_FILE": writeFile(t, "f", "\r\n", 0o600)}, errHas: []string{"K_FILE", "only a newline"}},
		{name: "directory", vars: map[string]string{"K_FILE": dir}, errHas: []string{"K_FILE", "not a regular file"}},
		{name: "both set", vars: map[string]string{"K": val, "K_FILE": writeFile(t, "f", val, 0o600)}, errHas: []string{"K and K_FILE"}},
		{name: "neither", vars: map[string]string{}, errHas: []string{"K or K_FILE"}, errIs: ErrNotSet},
		{name: "empty counts as unset", vars: map[string]string{"K": "", "K_FILE": ""}, errIs: ErrNotSet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := FromEnv(env(tt.vars), "K")
			if tt.want == "" && tt.wantSize == 0 {
				if err == nil {
					t.Fatalf("no error; loaded %d bytes", l.Secret.Len())
				}
				for _, h := range tt.errHas {
					if !strings.Contains(err.Error(), h) {
						t.Errorf("error %q does not mention %q", err, h)
					}
				}
				if tt.errIs != nil && !errors.Is(err, tt.errIs) {
					t.Errorf("error %v is not %v", err, tt.errIs)
				}
				if strings.Contains(err.Error(), val) {
					t.Errorf("error reveals the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSize != 0 {
				if l.Secret.Len() != tt.wantSize {
					t.Errorf("%d bytes, want %d", l.Secret.Len(), tt.wantSize)
				}
			} else if got := l.Secret.RevealString(); got != tt.want {
				t.Errorf("secret %q, want %q", got, tt.want)
			}
			if l.Kind != tt.kind {
				t.Errorf("kind %v, want %v", l.Kind, tt.kind)
			}
			if tt.kind == KindFile && !strings.HasSuffix(l.Source, "($K_FILE)") || tt.kind == KindEnv && l.Source != "$K" {
				t.Errorf("source %q", l.Source)
			}
			switch {
			case tt.warn == "" && len(l.Warnings) != 0:
				t.Errorf("unexpected warnings %q", l.Warnings)
			case tt.warn != "" && (len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], tt.warn) || !strings.HasPrefix(l.Warnings[0], "K_FILE: ")):
				t.Errorf("warnings %q, want one with %q", l.Warnings, tt.warn)
			}
			for _, w := range l.Warnings {
				if strings.Contains(w, val) {
					t.Errorf("warning reveals the value: %s", w)
				}
			}
		})
	}
}

func TestFromFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opening a FIFO for reading blocks until a writer comes; open a
	// writer so the test cannot hang, then expect a refusal.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	}()
	_, err := FromFile(p)
	<-done
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO was read as a secret file: %v", err)
	}
}

func TestDecodeKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xef, 0x01}, 11)[:32]
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"hex", "fbef01fbef01fbef01fbef01fbef01fbef01fbef01fbef01fbef01fbef01fbef", true},
		{"HEX with newline", "FBEF01FBEF01FBEF01FBEF01FBEF01FBEF01FBEF01FBEF01FBEF01FBEF01FBEF\n", true},
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"raw base64", base64.RawStdEncoding.EncodeToString(key), true},
		{"base64url", base64.URLEncoding.EncodeToString(key), true},
		{"raw base64url", base64.RawURLEncoding.EncodeToString(key), true},
		{"short hex", "fbef01", false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key, 1)), false},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), false},
		{"text", "this is not a key, it is a sentence!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := DecodeKey(NewString(tt.text), 32)
			if !tt.ok {
				if err == nil {
					t.Fatalf("accepted as %d bytes", k.Len())
				}
				if tt.text != "" && strings.Contains(err.Error(), tt.text) {
					t.Errorf("error reveals the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.Reveal(), key) {
				t.Errorf("decoded %x", k.Reveal())
			}
		})
	}
}

func TestLoadOrGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "secrets")
	path := filepath.Join(dir, "master.key")
	fixed := bytes.Repeat([]byte{7, 1, 9}, 11)[:32]

	first, err := LoadOrGenerate(path, 32, GenerateOptions{Rand: bytes.NewReader(fixed)})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.Kind != KindGenerated || !bytes.Equal(first.Secret.Reveal(), fixed) || len(first.Warnings) != 0 {
		t.Fatalf("first: created %v kind %v warnings %q", first.Created, first.Kind, first.Warnings)
	}
	if first.Source != path+" (generated)" {
		t.Errorf("source %q", first.Source)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, st.Mode().Perm(), want)
		}
	}
	content, _ := os.ReadFile(path)
	if string(content) != base64.StdEncoding.EncodeToString(fixed)+"\n" {
		t.Errorf("file holds %q", content)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	second, err := LoadOrGenerate(path, 32, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || !second.Secret.Equal(first.Secret) || second.Kind != KindGenerated {
		t.Errorf("second call: created %v, same %v", second.Created, second.Secret.Equal(first.Secret))
	}

	t.Run("wrong size on disk", func(t *testing.T) {
		_, err := LoadOrGenerate(path, 16, GenerateOptions{})
		if err == nil || !strings.Contains(err.Error(), "16-byte") || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("open directory warns", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
		l, err := LoadOrGenerate(filepath.Join(d, "k"), 32, GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "0755") {
			t.Errorf("warnings %q", l.Warnings)
		}
	})
	t.Run("randomness fails", func(t *testing.T) {
		d := t.TempDir()
		_, err := LoadOrGenerate(filepath.Join(d, "k"), 32, GenerateOptions{Rand: bytes.NewReader(make([]byte, 5))})
		if err == nil {
			t.Fatal("short randomness accepted")
		}
		if entries, _ := os.ReadDir(d); len(entries) != 0 {
			t.Errorf("left %v behind", entries)
		}
	})
	t.Run("bad size", func(t *testing.T) {
		if _, err := LoadOrGenerate(filepath.Join(t.TempDir(), "k"), 0, GenerateOptions{}); err == nil {
			t.Error("size 0 accepted")
		}
	})
	t.Run("unreadable existing file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads any file")
		}
		p := writeFile(t, "k", base64.StdEncoding.EncodeToString(fixed), 0o000)
		if _, err := LoadOrGenerate(p, 32, GenerateOptions{}); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no hard links", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "k")
		noLink := func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EPERM} }
		l, err := LoadOrGenerate(p, 32, GenerateOptions{Rand: bytes.NewReader(fixed), link: noLink})
		if err != nil {
			t.Fatal(err)
		}
		if !l.Created || !bytes.Equal(l.Secret.Reveal(), fixed) {
			t.Errorf("created %v", l.Created)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("mode %04o", st.Mode().Perm())
		}
		again, err := LoadOrGenerate(p, 32, GenerateOptions{link: noLink})
		if err != nil || again.Created || !again.Secret.Equal(l.Secret) {
			t.Errorf("second call: %v created %v", err, again.Created)
		}
		if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
			t.Errorf("temporary files left behind: %v", entries)
		}
	})
}

// TestLoadOrGenerateConcurrent starts many creators at once: they must all
// end up with the one secret that was published, and exactly one of them
// must have created it.
func TestLoadOrGenerateConcurrent(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "secrets", "k")
		const n = 16
		var wg sync.WaitGroup
		results := make([]Loaded, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = LoadOrGenerate(path, 32, GenerateOptions{Rand: rand.Reader})
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d creator %d: %v", round, i, errs[i])
			}
			if results[i].Created {
				created++
			}
			if !results[i].Secret.Equal(results[0].Secret) {
				t.Fatalf("round %d: creators disagree", round)
			}
		}
		if created != 1 {
			t.Fatalf("round %d: %d creators say they created the secret", round, created)
		}
	}
}
