package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

func TestCheckStrength(t *testing.T) {
	seeded := mrand.New(mrand.NewChaCha8([32]byte{1, 2, 3}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(seeded.Uint32())
		}
		return b
	}
	alnum := func(n int) string { // the FastAPI guide's SystemRandom choice
		const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[seeded.IntN(len(chars))]
		}
		return string(b)
	}
	fewDistinct := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "wxyz"[seeded.IntN(4)]
		}
		return string(b)
	}
	sequential := make([]byte, 32)
	for i := range sequential {
		sequential[i] = byte(i)
	}

	tests := []struct {
		name   string
		secret string
		min    int
		want   string // substring of the error; "" for none
	}{
		{"32 random bytes", string(random(32)), 32, ""},
		{"64 hex digits", hex.EncodeToString(random(32)), 32, ""},
		{"base64 of 32 bytes", base64.StdEncoding.EncodeToString(random(32)), 32, ""},
		{"raw base64url of 32 bytes", base64.RawURLEncoding.EncodeToString(random(32)), 32, ""},
		{"64 random letters and digits", alnum(64), 32, ""},
		{"long passphrase with punctuation", "Tr0ub4dor & 3, correct horse battery staple!", 32, ""},
		{"empty", "", 32, "empty"},
		{"31 random bytes", string(random(31)), 32, "31 bytes, want at least 32"},
		{"32 hex digits are 16 bytes", hex.EncodeToString(random(16)), 32, "16 bytes of key material (decoded from hex)"},
		{"base64 of 24 bytes", base64.StdEncoding.EncodeToString(random(24)), 32, "24 bytes of key material (decoded from base64)"},
		{"32 letters and digits are 24 bytes", alnum(32), 32, "24 bytes of key material (decoded from base64)"},
		{"one character", strings.Repeat("a", 64), 32, "one character repeated"},
		{"one character in hex", strings.Repeat("00", 32), 32, "one character repeated"},
		{"repeating pattern", strings.Repeat("abc!", 16), 32, "repeating pattern of 4"},
		{"repeating pattern with a tail", strings.Repeat("pass-", 9) + "pa", 32, "repeating pattern of 5"},
		{"repeating hex", strings.Repeat("0123456789abcdef", 4), 32, "repeating pattern of 16"},
		{"few distinct", fewDistinct(48) + "!", 32, "only 5 distinct"},
		{"alphabet", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 32, "mostly sequential"},
		{"sequential bytes in hex", hex.EncodeToString(sequential), 32, "hex-decoded key is mostly sequential"},
		{"doubled letters", "aabbccddeeffgghhiijjkkllmmnnooppqqrrssttuuvvwwxxyyzz!?", 32, "mostly sequential"},
		{"short min", "k3y!", 4, ""},
	}
	// Every example secret, as published and in variants.
	for _, s := range []string{
		"hello-from-escape-team", "staysecureyourescapeteam", "asecrettoeverybody", "changeme", "secret",
		"HELLO-FROM-ESCAPE-TEAM", "StaySecureYourEscapeTeam", "ASecretToEverybody", "ChangeMe", "SECRET",
		"change-me", "change_me", "Change Me 2024", "secret1", "secret!",
		"your-secret-key", "supersecret", "super-secret-key", "secretkey", "secret_key", "password", "Passw0rd",
		"jwt-secret", "JWT_SECRET", "your-256-bit-secret", "a-string-secret-at-least-256-bits-long", "keyboard cat",
		"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
		"09D25E094FAA6CA2556C818166B7A9563B93F7099F6F0F4CAA6CF63B88E8D3E7",
		"changethis", "you-will-never-guess", "notasecret", "changeit",
	} {
		tests = append(tests, struct {
			name, secret string
			min          int
			want         string
		}{"example " + s, s, 32, "published example"})
	}
	for s := range knownExamples {
		tests = append(tests, struct {
			name, secret string
			min          int
			want         string
		}{"table " + s, s, 1, "published example"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrength(NewString(tt.secret), tt.min)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrWeak) {
				t.Errorf("%v is not ErrWeak", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			const fixed = "weak secret: a published example or default secret"
			if lower := strings.ToLower(tt.secret); len(lower) >= 4 && strings.Contains(strings.ToLower(err.Error()), lower) && !strings.Contains(fixed, lower) {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}

// TestCheckStrengthRandomKeysPass guards against false refusals of real
// keys in every form LoadOrGenerate, openssl and operators produce.
func TestCheckStrengthRandomKeysPass(t *testing.T) {
	for i := range 2000 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)} {
			if err := CheckStrength(NewString(form), MinKeyBytes); err != nil {
				t.Fatalf("key %d refused: %v", i, err)
			}
		}
	}
}

func TestCheckStrengthLarge(t *testing.T) {
	// A 64 KiB secret is checked in linear time.
	b := make([]byte, MaxFileSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := CheckStrength(New(b), MinKeyBytes); err != nil {
		t.Fatal(err)
	}
	if err := CheckStrength(NewString(strings.Repeat("ab", MaxFileSize/2)), MinKeyBytes); err == nil {
		t.Fatal("64 KiB of a repeating pattern accepted")
	}
}

func BenchmarkCheckStrength(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	k := NewString(base64.StdEncoding.EncodeToString(key))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckStrength(k, MinKeyBytes); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCheckProduction(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	strong := base64.StdEncoding.EncodeToString(key)
	gen, err := LoadOrGenerate(t.TempDir()+"/k", 32, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		l      Loaded
		errHas string
	}{
		{"strong from env", Loaded{Secret: NewString(strong), Kind: KindEnv, Source: "$K"}, ""},
		{"generated", gen, "generated development secret"},
		{"example", Loaded{Secret: NewString("hello-from-escape-team"), Kind: KindEnv, Source: "$K"}, "$K: weak secret: a published example"},
		{"short file", Loaded{Secret: NewString("abc"), Kind: KindFile, Source: "/run/secrets/k ($K_FILE)"}, "/run/secrets/k ($K_FILE): weak secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.CheckProduction(MinKeyBytes)
			if tt.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line with %q", err, tt.errHas)
			}
		})
	}
}
