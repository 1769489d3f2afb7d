package password

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func hostileHashes(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/hostile-hashes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHostileHashes(t *testing.T) {
	h := newTestHasher(t, HasherOptions{})
	n := hookCounter(h)
	lines := hostileHashes(t)
	if len(lines) < 20 {
		t.Fatalf("only %d hostile hashes", len(lines))
	}
	for _, enc := range lines {
		ok, err := h.Verify(context.Background(), "password1", enc)
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%.40q...) = %v, %v; want ErrMalformedHash", enc, ok, err)
		}
	}
	if n.Load() != 0 {
		t.Fatalf("%d computations for hostile hashes", n.Load())
	}
}

// FuzzVerify feeds arbitrary stored strings and passwords to the parser and
// to Verify. It never panics; a string is either refused with
// ErrMalformedHash (and NeedsRehash) or parses to a value that encodes back
// to exactly the same string (the parser accepts only canonical forms), and
// then verifies without error when it is cheap enough to compute here.
func FuzzVerify(f *testing.F) {
	for _, v := range argon2idVectors {
		f.Add(v.encoded, v.password)
	}
	for _, s := range []string{password1Bcrypt4, password1Htpasswd12, fastAPIGuideHash, unicodeBcrypt4, a72Bcrypt4} {
		f.Add(s, "password1")
	}
	for _, s := range hostileHashes(f) {
		f.Add(s, "password1")
	}
	f.Add("", "")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$ZGlmZnNhbHQ$KVIP0nIEz5EpiCrZLKAGnRgF0aGkzgVCOOpGA8otAlg", "password")
	f.Add("$2b$04$", "\xff")
	h := newTestHasher(f, HasherOptions{MaxConcurrent: 1})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, encoded, password string) {
		st, err := parseStored(encoded)
		needs := h.NeedsRehash(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parse error %v does not wrap ErrMalformedHash", err)
			}
			if len(encoded) > 8 && strings.Contains(err.Error(), encoded) {
				t.Fatalf("error %q repeats the stored hash", err)
			}
			if !needs {
				t.Fatal("NeedsRehash(malformed) = false")
			}
			ok, verr := h.Verify(ctx, password, encoded)
			if ok || !errors.Is(verr, ErrMalformedHash) {
				t.Fatalf("Verify(malformed) = %v, %v", ok, verr)
			}
			return
		}
		cheap := false
		switch {
		case st.argon2 != nil:
			a := st.argon2
			if got := encodeArgon2id(*a); got != encoded {
				t.Fatalf("accepted non-canonical %q (re-encodes as %q)", encoded, got)
			}
			if a.memory > MaxMemoryKiB || a.time < 1 || a.time > MaxTime || a.threads < 1 || a.threads > MaxThreads ||
				a.memory < 8*uint32(a.threads) || len(a.salt) < MinSaltLen || len(a.salt) > MaxSaltLen ||
				len(a.key) < MinKeyLen || len(a.key) > MaxKeyLen {
				t.Fatalf("accepted out-of-bounds %+v", a)
			}
			cheap = uint64(a.memory)*uint64(a.time) <= 4096
		case st.bcrypt != nil:
			b := st.bcrypt
			if string(b.encoded[4:]) != encoded[4:] || len(encoded) != bcryptLen {
				t.Fatalf("bcrypt %q parsed as %q", encoded, b.encoded)
			}
			if b.cost < MinBcryptCost || b.cost > MaxBcryptCost {
				t.Fatalf("accepted bcrypt cost %d", b.cost)
			}
			if !needs {
				t.Fatal("NeedsRehash(bcrypt) = false")
			}
			cheap = b.cost <= 5
		default:
			t.Fatal("parse succeeded with nothing parsed")
		}
		if cheap {
			if _, err := h.Verify(ctx, password, encoded); err != nil {
				t.Fatalf("Verify(well-formed %q): %v", encoded, err)
			}
		}
	})
}

// FuzzPolicyCheck: Check never panics, answers nil or a *PolicyError, and
// every password it accepts is one that Hash accepts and Verify hashes.
func FuzzPolicyCheck(f *testing.F) {
	for _, s := range []string{"", "password", "ＰＡＳＳＷＯＲＤ", "q7w9e1r4", "\ufdfa", strings.Repeat("\ufdfa", 8), "abc\xff", "e\u0301e\u0301e\u0301e\u0301"} {
		f.Add(s, "alice")
	}
	p, err := NewPolicy(PolicyOptions{Forbidden: []string{"fortapi"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, password, username string) {
		err := p.Check(password, username)
		if err == nil {
			if !utf8.ValidString(password) {
				t.Fatal("accepted invalid UTF-8")
			}
			if _, ok := normalize(password); !ok {
				t.Fatal("accepted a password Hash refuses as too long")
			}
			if utf8.RuneCountInString(password) < DefaultMinLength {
				t.Fatal("accepted a short password")
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("Check error %T, want *PolicyError", err)
		}
	})
}
