package password

import (
	"context"
	"testing"
)

// BenchmarkHashArgon2id: one default argon2id hash (m=19 MiB, t=2, p=1).
func BenchmarkHashArgon2id(b *testing.B) {
	h := newTestHasher(b, HasherOptions{MaxConcurrent: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyArgon2id: verifying a default argon2id hash.
func BenchmarkVerifyArgon2id(b *testing.B) {
	h := newTestHasher(b, HasherOptions{MaxConcurrent: 1})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := h.Verify(ctx, "correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkVerifyBcrypt12: verifying a legacy cost-12 bcrypt hash.
func BenchmarkVerifyBcrypt12(b *testing.B) {
	h := newTestHasher(b, HasherOptions{MaxConcurrent: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := h.Verify(ctx, "password1", password1Bcrypt12); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkVerifyDummy: the unknown-user path; compare with
// BenchmarkVerifyArgon2id.
func BenchmarkVerifyDummy(b *testing.B) {
	h := newTestHasher(b, HasherOptions{MaxConcurrent: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.VerifyDummy(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPolicyCheck: an accepted password (every rule runs).
func BenchmarkPolicyCheck(b *testing.B) {
	p := DefaultPolicy()
	_ = p.Check("warm up the list", "")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check("correct horse battery staple", "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
