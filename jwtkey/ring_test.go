package jwtkey_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
)

var algs = []jwtkey.Alg{jwtkey.EdDSA, jwtkey.ES256, jwtkey.HS256}

// newClock is the tests' settable clock, at a fixed start.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

func masterKey(label string) []byte {
	k := sha256.Sum256([]byte("jwtkey test master key " + label))
	return k[:]
}

func opts(alg jwtkey.Alg, store jwtkey.Store, clock *testutil.Clock) jwtkey.Options {
	return jwtkey.Options{
		Alg:       alg,
		MasterKey: masterKey("A"),
		Store:     store,
		Now:       clock.Now,
	}
}

func mustOpen(t testing.TB, o jwtkey.Options) *jwtkey.Ring {
	t.Helper()
	r, err := jwtkey.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func keyIn(t testing.TB, r *jwtkey.Ring, state jwtkey.State) []string {
	t.Helper()
	var ids []string
	for _, k := range r.Keys() {
		if k.State == state {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

func onlyKey(t testing.TB, r *jwtkey.Ring, state jwtkey.State) string {
	t.Helper()
	ids := keyIn(t, r, state)
	if len(ids) != 1 {
		t.Fatalf("want exactly one %s key, have %v (all: %+v)", state, ids, r.Keys())
	}
	return ids[0]
}

// jwksKids returns the kids in r's JWKS, in order.
func jwksKids(t testing.TB, r *jwtkey.Ring) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func verifies(r *jwtkey.Ring, kid string) bool {
	_, ok := r.Verifier(kid)
	return ok
}

func TestOptions(t *testing.T) {
	store := jwtkey.NewMemoryStore()
	good := jwtkey.Options{MasterKey: masterKey("A"), Store: store}
	tests := []struct {
		name   string
		change func(*jwtkey.Options)
		want   string // substring of the error; "" for success
	}{
		{"defaults", func(*jwtkey.Options) {}, ""},
		{"no store", func(o *jwtkey.Options) { o.Store = nil }, "Store is required"},
		{"no master key", func(o *jwtkey.Options) { o.MasterKey = nil }, "exactly 32 bytes, got 0"},
		{"short master key", func(o *jwtkey.Options) { o.MasterKey = make([]byte, 31) }, "exactly 32 bytes, got 31"},
		{"long master key", func(o *jwtkey.Options) { o.MasterKey = make([]byte, 64) }, "exactly 32 bytes, got 64"},
		{"zero master key", func(o *jwtkey.Options) { o.MasterKey = make([]byte, 32) }, "all zero"},
		{"unknown alg", func(o *jwtkey.Options) { o.Alg = "RS256" }, "unsupported Alg"},
		{"alg none", func(o *jwtkey.Options) { o.Alg = "none" }, "unsupported Alg"},
		{"negative rotate", func(o *jwtkey.Options) { o.RotateEvery = -time.Hour }, "RotateEvery"},
		{"tiny rotate", func(o *jwtkey.Options) { o.RotateEvery = time.Second }, "RotateEvery"},
		{"negative lifetime", func(o *jwtkey.Options) { o.MaxTokenLifetime = -1 }, "MaxTokenLifetime"},
		{"negative leeway", func(o *jwtkey.Options) { o.Leeway = -1 }, "Leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			r, err := jwtkey.Open(context.Background(), o)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				sk, err := r.Signer()
				if err != nil || sk.Alg != jwtkey.EdDSA {
					t.Fatalf("Signer = %v, %v; want an EdDSA key by default", sk.Alg, err)
				}
				return
			}
			if !errors.Is(err, jwtkey.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %v; want ErrInvalidOptions mentioning %q", err, tt.want)
			}
			if r != nil {
				t.Fatal("Open returned a Ring with an error")
			}
		})
	}
}

// TestLifecycle walks one ring through its states with a fake clock.
func TestLifecycle(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			store := jwtkey.NewMemoryStore()
			r := mustOpen(t, opts(alg, store, clock))
			published := alg != jwtkey.HS256

			// Open on an empty store: one active, one next, both saved.
			active := onlyKey(t, r, jwtkey.StateActive)
			next := onlyKey(t, r, jwtkey.StateNext)
			if stored, _ := store.LoadKeys(ctx); len(stored) != 2 {
				t.Fatalf("store holds %d keys after Open, want 2", len(stored))
			}
			if sk, _ := r.Signer(); sk.ID != active || sk.Alg != alg {
				t.Fatalf("Signer = %s/%s, want the active key %s/%s", sk.ID, sk.Alg, active, alg)
			}
			if !verifies(r, active) {
				t.Fatal("active key does not verify")
			}
			if !verifies(r, next) {
				t.Fatal("next key does not verify: a peer that rotated first would have its tokens refused here")
			}
			if published {
				if got, want := jwksKids(t, r), []string{active, next}; !slices.Equal(got, want) {
					t.Fatalf("JWKS kids = %v, want active and next %v", got, want)
				}
			} else if got := jwksKids(t, r); len(got) != 0 {
				t.Fatalf("HS256 JWKS lists %v", got)
			}

			// Rotate: next becomes active, active retiring, a new next.
			clock.Advance(time.Hour)
			if err := r.Rotate(ctx); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if got := onlyKey(t, r, jwtkey.StateActive); got != next {
				t.Fatalf("after Rotate the active key is %s, want the old next %s", got, next)
			}
			if got := onlyKey(t, r, jwtkey.StateRetiring); got != active {
				t.Fatalf("after Rotate the retiring key is %s, want the old active %s", got, active)
			}
			newNext := onlyKey(t, r, jwtkey.StateNext)
			if newNext == active || newNext == next {
				t.Fatal("Rotate did not create a new next key")
			}
			if sk, _ := r.Signer(); sk.ID != next {
				t.Fatalf("Signer = %s after Rotate, want %s", sk.ID, next)
			}
			if !verifies(r, active) {
				t.Fatal("the retiring key stopped verifying at rotation: users would be logged out")
			}
			if !verifies(r, next) {
				t.Fatal("the new active key does not verify")
			}
			if published {
				if got, want := jwksKids(t, r), []string{next, newNext, active}; !slices.Equal(got, want) {
					t.Fatalf("JWKS kids = %v, want active, next, retiring %v", got, want)
				}
			}
			var info jwtkey.KeyInfo
			for _, k := range r.Keys() {
				if k.ID == active {
					info = k
				}
			}
			if want := info.RetiringAt.Add(jwtkey.DefaultMaxTokenLifetime + jwtkey.DefaultLeeway); !info.RetiredAt.Equal(want) {
				t.Fatalf("RetiredAt = %v, want RetiringAt + MaxTokenLifetime + Leeway = %v", info.RetiredAt, want)
			}

			// Just before RetiredAt the retiring key still verifies, even
			// after Maintain.
			clock.Advance(jwtkey.DefaultMaxTokenLifetime + jwtkey.DefaultLeeway - time.Nanosecond)
			if rotated, err := r.Maintain(ctx); err != nil || rotated {
				t.Fatalf("Maintain = %v, %v; want no rotation", rotated, err)
			}
			if !verifies(r, active) {
				t.Fatal("retiring key stopped verifying before RetiredAt")
			}

			// At RetiredAt it stops verifying by the clock alone, and
			// leaves the JWKS, before Maintain has run.
			clock.Advance(time.Nanosecond)
			if verifies(r, active) {
				t.Fatal("retiring key still verifies at RetiredAt")
			}
			if slices.Contains(jwksKids(t, r), active) {
				t.Fatal("retiring key still published at RetiredAt")
			}
			if rotated, err := r.Maintain(ctx); err != nil || rotated {
				t.Fatalf("Maintain = %v, %v; want no rotation", rotated, err)
			}
			if got := onlyKey(t, r, jwtkey.StateRetired); got != active {
				t.Fatalf("retired key = %s, want %s", got, active)
			}
			if verifies(r, active) || slices.Contains(jwksKids(t, r), active) {
				t.Fatal("retired key verifies or is published")
			}
			stored, _ := store.LoadKeys(ctx)
			for _, k := range stored {
				if k.ID == active && (k.State != jwtkey.StateRetired || k.Sealed != nil) {
					t.Fatalf("stored retired key: state %s, sealed %d bytes; want retired, erased", k.State, len(k.Sealed))
				}
			}

			// Auto-rotation: Maintain rotates once the active key has
			// signed for RotateEvery, not before.
			var activatedAt time.Time
			for _, k := range r.Keys() {
				if k.ID == next {
					activatedAt = k.ActivatedAt
				}
			}
			if activatedAt.IsZero() {
				t.Fatal("active key has no ActivatedAt")
			}
			clock.Set(activatedAt.Add(jwtkey.DefaultRotateEvery - time.Second))
			if rotated, err := r.Maintain(ctx); err != nil || rotated {
				t.Fatalf("Maintain before RotateEvery = %v, %v; want no rotation", rotated, err)
			}
			clock.Advance(time.Second)
			if rotated, err := r.Maintain(ctx); err != nil || !rotated {
				t.Fatalf("Maintain at RotateEvery = %v, %v; want a rotation", rotated, err)
			}
			if got := onlyKey(t, r, jwtkey.StateActive); got != newNext {
				t.Fatalf("auto-rotation activated %s, want %s", got, newNext)
			}
			if got := onlyKey(t, r, jwtkey.StateRetiring); got != next {
				t.Fatalf("auto-rotation retired %s, want %s", got, next)
			}
			if rotated, err := r.Maintain(ctx); err != nil || rotated {
				t.Fatalf("second Maintain = %v, %v; want no rotation", rotated, err)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name  string
		state jwtkey.State
	}{
		{"active", jwtkey.StateActive},
		{"next", jwtkey.StateNext},
		{"retiring", jwtkey.StateRetiring},
		{"retired", jwtkey.StateRetired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			store := jwtkey.NewMemoryStore()
			r := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
			if err := r.Rotate(ctx); err != nil { // now: retiring, active, next
				t.Fatal(err)
			}
			if tt.state == jwtkey.StateRetired {
				clock.Advance(time.Hour)
				if _, err := r.Maintain(ctx); err != nil {
					t.Fatal(err)
				}
			}
			oldActive := onlyKey(t, r, jwtkey.StateActive)
			oldNext := onlyKey(t, r, jwtkey.StateNext)
			victim := onlyKey(t, r, tt.state)

			if err := r.Revoke(ctx, victim); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got := onlyKey(t, r, jwtkey.StateRevoked); got != victim {
				t.Fatalf("revoked key = %s, want %s", got, victim)
			}
			if verifies(r, victim) {
				t.Fatal("revoked key still verifies")
			}
			if slices.Contains(jwksKids(t, r), victim) {
				t.Fatal("revoked key still published")
			}
			sk, err := r.Signer()
			if err != nil || sk.ID == victim {
				t.Fatalf("Signer = %s, %v; must not be the revoked key", sk.ID, err)
			}
			active := onlyKey(t, r, jwtkey.StateActive)
			next := onlyKey(t, r, jwtkey.StateNext)
			switch tt.state {
			case jwtkey.StateActive:
				if active != oldNext {
					t.Fatalf("active after revoking the active key = %s, want the promoted next %s", active, oldNext)
				}
				if next == oldNext || next == victim {
					t.Fatal("no new next key after revoking the active key")
				}
			case jwtkey.StateNext:
				if active != oldActive || next == oldNext {
					t.Fatalf("revoking next: active %s (want %s), next %s (want a new one)", active, oldActive, next)
				}
			default:
				if active != oldActive || next != oldNext {
					t.Fatal("revoking an old key changed the active or next key")
				}
			}
			stored, _ := store.LoadKeys(ctx)
			for _, k := range stored {
				if k.ID == victim && (k.State != jwtkey.StateRevoked || k.RevokedAt.IsZero() || k.Sealed != nil) {
					t.Fatalf("stored revoked key: state %s, revoked at %v, sealed %d bytes", k.State, k.RevokedAt, len(k.Sealed))
				}
			}

			// Revocation is final: revoking again changes nothing, a
			// reopened ring and a rotation leave it revoked.
			before := r.Keys()
			clock.Advance(time.Minute)
			if err := r.Revoke(ctx, victim); err != nil {
				t.Fatalf("second Revoke: %v", err)
			}
			if !slices.Equal(before, r.Keys()) {
				t.Fatalf("second Revoke changed the keys:\n%+v\n%+v", before, r.Keys())
			}
			if err := r.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			r2 := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
			if verifies(r2, victim) || !slices.Contains(keyIn(t, r2, jwtkey.StateRevoked), victim) {
				t.Fatal("revocation did not survive a reopen")
			}
		})
	}

	t.Run("unknown", func(t *testing.T) {
		r := mustOpen(t, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
		for _, kid := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "", strings.Repeat("a", 65), "../etc", "a b"} {
			if err := r.Revoke(context.Background(), kid); !errors.Is(err, jwtkey.ErrUnknownKey) {
				t.Errorf("Revoke(%q) = %v, want ErrUnknownKey", kid, err)
			}
		}
		if len(r.Keys()) != 2 {
			t.Fatalf("unknown revocations changed the ring: %+v", r.Keys())
		}
	})
}

// sign signs msg with sk by the standard library.
func sign(t *testing.T, sk jwtkey.SigningKey, msg []byte) []byte {
	t.Helper()
	switch sk.Alg {
	case jwtkey.EdDSA:
		priv, ok := sk.Key.(ed25519.PrivateKey)
		if !ok {
			t.Fatalf("EdDSA signing key is %T", sk.Key)
		}
		return ed25519.Sign(priv, msg)
	case jwtkey.ES256:
		priv, ok := sk.Key.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			t.Fatalf("ES256 signing key is %T", sk.Key)
		}
		h := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case jwtkey.HS256:
		secret, ok := sk.Key.([]byte)
		if !ok || len(secret) < jwtkey.MinHMACKeySize {
			t.Fatalf("HS256 signing key is %T of %d bytes", sk.Key, len(secret))
		}
		m := hmac.New(sha256.New, secret)
		m.Write(msg)
		return m.Sum(nil)
	}
	t.Fatalf("unexpected alg %q", sk.Alg)
	return nil
}

// verify checks sig over msg with vk by the standard library.
func verify(t *testing.T, vk jwtkey.VerifyingKey, msg, sig []byte) bool {
	t.Helper()
	switch vk.Alg {
	case jwtkey.EdDSA:
		pub, ok := vk.Key.(ed25519.PublicKey)
		if !ok {
			t.Fatalf("EdDSA verifying key is %T", vk.Key)
		}
		return ed25519.Verify(pub, msg, sig)
	case jwtkey.ES256:
		pub, ok := vk.Key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Fatalf("ES256 verifying key is %T", vk.Key)
		}
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(pub, h[:], sig)
	case jwtkey.HS256:
		secret, ok := vk.Key.([]byte)
		if !ok {
			t.Fatalf("HS256 verifying key is %T", vk.Key)
		}
		m := hmac.New(sha256.New, secret)
		m.Write(msg)
		return hmac.Equal(sig, m.Sum(nil))
	}
	t.Fatalf("unexpected alg %q", vk.Alg)
	return false
}

// signAndVerify signs with sk and verifies with vk, and checks that vk
// refuses an altered message.
func signAndVerify(t *testing.T, sk jwtkey.SigningKey, vk jwtkey.VerifyingKey) {
	t.Helper()
	if sk.Alg != vk.Alg || sk.ID != vk.ID {
		t.Fatalf("signing key %s/%s, verifying key %s/%s", sk.ID, sk.Alg, vk.ID, vk.Alg)
	}
	msg := []byte("header.payload")
	sig := sign(t, sk, msg)
	if !verify(t, vk, msg, sig) {
		t.Fatalf("%s signature does not verify", sk.Alg)
	}
	if verify(t, vk, []byte("header.payloaD"), sig) {
		t.Fatalf("%s signature verifies an altered message", sk.Alg)
	}
}

func TestEachAlgSignsAndVerifies(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			r := mustOpen(t, opts(alg, jwtkey.NewMemoryStore(), newClock()))
			sk, err := r.Signer()
			if err != nil {
				t.Fatal(err)
			}
			vk, ok := r.Verifier(sk.ID)
			if !ok {
				t.Fatal("the active key does not verify")
			}
			signAndVerify(t, sk, vk)

			// Another ring's key must not verify this key's signatures.
			other := mustOpen(t, opts(alg, jwtkey.NewMemoryStore(), newClock()))
			osk, _ := other.Signer()
			ovk, _ := other.Verifier(osk.ID)
			msg := []byte("m")
			if verify(t, ovk, msg, sign(t, sk, msg)) {
				t.Fatal("another ring's key verifies this ring's signature")
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			sk, vk, err := jwtkey.GenerateKey(nil, alg)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := base64.RawURLEncoding.DecodeString(sk.ID); err != nil || len(b) < 12 {
				t.Fatalf("kid %q is not >= 96 bits of base64url", sk.ID)
			}
			signAndVerify(t, sk, vk)
		})
	}
	if _, _, err := jwtkey.GenerateKey(nil, "none"); !errors.Is(err, jwtkey.ErrInvalidOptions) {
		t.Fatalf("GenerateKey(none) = %v", err)
	}
}

func TestNewHMACKey(t *testing.T) {
	tests := []struct {
		name    string
		kid     string
		secret  []byte
		wantErr error
	}{
		{"32 bytes", "k1", bytes.Repeat([]byte{1}, 32), nil},
		{"64 bytes", "k1", bytes.Repeat([]byte{1}, 64), nil},
		{"31 bytes", "k1", bytes.Repeat([]byte{1}, 31), jwtkey.ErrWeakKey},
		{"empty", "k1", nil, jwtkey.ErrWeakKey},
		{"empty kid", "", bytes.Repeat([]byte{1}, 32), jwtkey.ErrInvalidOptions},
		{"long kid", strings.Repeat("k", 65), bytes.Repeat([]byte{1}, 32), jwtkey.ErrInvalidOptions},
		{"kid with quote", `k"`, bytes.Repeat([]byte{1}, 32), jwtkey.ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sk, vk, err := jwtkey.NewHMACKey(tt.kid, tt.secret)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("NewHMACKey error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			signAndVerify(t, sk, vk)
			tt.secret[0] ^= 0xff
			if bytes.Equal(sk.Key.([]byte), tt.secret) {
				t.Fatal("NewHMACKey kept the caller's slice")
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			store := jwtkey.NewMemoryStore()
			r1 := mustOpen(t, opts(alg, store, clock))
			if err := r1.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			retiring := onlyKey(t, r1, jwtkey.StateRetiring)

			r2 := mustOpen(t, opts(alg, store, clock))
			if !slices.Equal(r1.Keys(), r2.Keys()) {
				t.Fatalf("reopened ring differs:\n%+v\n%+v", r1.Keys(), r2.Keys())
			}
			if !bytes.Equal(r1.JWKS(), r2.JWKS()) {
				t.Fatal("reopened ring publishes a different JWKS")
			}
			sk, _ := r1.Signer()
			vk, ok := r2.Verifier(sk.ID)
			if !ok {
				t.Fatal("reopened ring does not verify the active key")
			}
			signAndVerify(t, sk, vk) // signed by r1's key, verified by r2's
			sk2, _ := r2.Signer()
			vk1, _ := r1.Verifier(sk2.ID)
			signAndVerify(t, sk2, vk1)
			if !verifies(r2, retiring) {
				t.Fatal("reopened ring does not verify the retiring key")
			}
			if stored, _ := store.LoadKeys(ctx); len(stored) != 3 {
				t.Fatalf("reopen changed the store: %d keys", len(stored))
			}
		})
	}
}

// TestAtRest checks that no private key material is stored in clear.
func TestAtRest(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			store := jwtkey.NewMemoryStore()
			r := mustOpen(t, opts(alg, store, newClock()))
			sk, _ := r.Signer()
			var secret []byte
			switch k := sk.Key.(type) {
			case ed25519.PrivateKey:
				secret = k.Seed()
			case *ecdsa.PrivateKey:
				secret, _ = k.Bytes()
			case []byte:
				secret = k
			}
			stored, _ := store.LoadKeys(context.Background())
			for _, k := range stored {
				for _, field := range [][]byte{k.Public, k.Sealed, []byte(k.ID)} {
					if bytes.Contains(field, secret) {
						t.Fatalf("private key of %s found in clear in the store", k.ID)
					}
				}
				if len(k.Sealed) == 0 {
					t.Fatalf("key %s has no sealed material", k.ID)
				}
			}
		})
	}
}

func TestWrongMasterKey(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			clock := newClock()
			store := jwtkey.NewMemoryStore()
			mustOpen(t, opts(alg, store, clock))
			o := opts(alg, store, clock)
			o.MasterKey = masterKey("B")
			r, err := jwtkey.Open(context.Background(), o)
			if !errors.Is(err, jwtkey.ErrWrongMasterKey) || r != nil {
				t.Fatalf("Open with another master key = %v, %v; want ErrWrongMasterKey", r, err)
			}
		})
	}
}

// tamper opens a ring on a fresh store, lets change edit the stored rows
// (active first, next second) and reopens.
func tamper(t *testing.T, alg jwtkey.Alg, change func(active, next *jwtkey.StoredKey)) error {
	t.Helper()
	ctx := context.Background()
	clock := newClock()
	store := jwtkey.NewMemoryStore()
	mustOpen(t, opts(alg, store, clock))
	stored, err := store.LoadKeys(ctx)
	if err != nil || len(stored) != 2 {
		t.Fatalf("LoadKeys = %d keys, %v", len(stored), err)
	}
	if stored[0].State != jwtkey.StateActive {
		stored[0], stored[1] = stored[1], stored[0]
	}
	change(&stored[0], &stored[1])
	if err := store.SaveKeys(ctx, stored); err != nil {
		t.Fatal(err)
	}
	r, err := jwtkey.Open(ctx, opts(alg, store, clock))
	if err == nil {
		return nil
	}
	if r != nil {
		t.Fatal("Open returned a Ring and an error")
	}
	return err
}

func TestTampering(t *testing.T) {
	otherEd, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name   string
		algs   []jwtkey.Alg
		change func(a, n *jwtkey.StoredKey)
		want   error
	}{
		{"untouched", algs, func(a, n *jwtkey.StoredKey) {}, nil},
		{"flip version byte", algs, func(a, n *jwtkey.StoredKey) { a.Sealed[0] ^= 1 }, jwtkey.ErrCorruptKey},
		{"flip check byte", algs, func(a, n *jwtkey.StoredKey) { a.Sealed[3] ^= 1 }, jwtkey.ErrWrongMasterKey},
		{"flip nonce byte", algs, func(a, n *jwtkey.StoredKey) { a.Sealed[12] ^= 1 }, jwtkey.ErrCorruptKey},
		{"flip ciphertext byte", algs, func(a, n *jwtkey.StoredKey) { a.Sealed[30] ^= 1 }, jwtkey.ErrCorruptKey},
		{"flip tag byte", algs, func(a, n *jwtkey.StoredKey) { a.Sealed[len(a.Sealed)-1] ^= 1 }, jwtkey.ErrCorruptKey},
		{"flip next key byte", algs, func(a, n *jwtkey.StoredKey) { n.Sealed[40] ^= 0x80 }, jwtkey.ErrCorruptKey},
		{"truncated", algs, func(a, n *jwtkey.StoredKey) { a.Sealed = a.Sealed[:20] }, jwtkey.ErrCorruptKey},
		{"erased", algs, func(a, n *jwtkey.StoredKey) { a.Sealed = nil }, jwtkey.ErrCorruptKey},
		{"swapped between keys", algs, func(a, n *jwtkey.StoredKey) { a.Sealed, n.Sealed = n.Sealed, a.Sealed }, jwtkey.ErrCorruptKey},
		{"swapped with public keys", []jwtkey.Alg{jwtkey.EdDSA, jwtkey.ES256}, func(a, n *jwtkey.StoredKey) {
			a.Sealed, n.Sealed = n.Sealed, a.Sealed
			a.Public, n.Public = n.Public, a.Public
		}, jwtkey.ErrCorruptKey},
		{"public key substituted", []jwtkey.Alg{jwtkey.EdDSA}, func(a, n *jwtkey.StoredKey) {
			a.Public = otherEd
		}, jwtkey.ErrCorruptKey},
		{"public key bit flipped", []jwtkey.Alg{jwtkey.EdDSA, jwtkey.ES256}, func(a, n *jwtkey.StoredKey) { a.Public[5] ^= 1 }, jwtkey.ErrCorruptKey},
		{"public key added to HMAC", []jwtkey.Alg{jwtkey.HS256}, func(a, n *jwtkey.StoredKey) { a.Public = []byte{1} }, jwtkey.ErrCorruptKey},
		{"alg relabelled EdDSA to ES256", []jwtkey.Alg{jwtkey.EdDSA}, func(a, n *jwtkey.StoredKey) { a.Alg = jwtkey.ES256 }, jwtkey.ErrCorruptKey},
		{"alg relabelled to HS256", []jwtkey.Alg{jwtkey.EdDSA, jwtkey.ES256}, func(a, n *jwtkey.StoredKey) {
			a.Alg = jwtkey.HS256
			a.Public = nil
		}, jwtkey.ErrCorruptKey},
		{"alg relabelled HS256 to EdDSA", []jwtkey.Alg{jwtkey.HS256}, func(a, n *jwtkey.StoredKey) { a.Alg = jwtkey.EdDSA }, jwtkey.ErrCorruptKey},
		{"alg none", algs, func(a, n *jwtkey.StoredKey) { a.Alg = "none" }, jwtkey.ErrCorruptKey},
		{"unknown state", algs, func(a, n *jwtkey.StoredKey) { a.State = "dormant" }, jwtkey.ErrCorruptKey},
		{"invalid kid", algs, func(a, n *jwtkey.StoredKey) { a.ID = "kid with spaces" }, jwtkey.ErrCorruptKey},
		{"renamed kid", algs, func(a, n *jwtkey.StoredKey) { a.ID = "AAAAAAAAAAAAAAAAAAAAAA" }, jwtkey.ErrCorruptKey},
	}
	for _, tt := range tests {
		for _, alg := range tt.algs {
			t.Run(tt.name+"/"+string(alg), func(t *testing.T) {
				err := tamper(t, alg, tt.change)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					return
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("Open after tampering = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

// TestServerAndCLI: two rings on one store, as `fortapi serve` and
// `fortapi keys ...` have.
func TestServerAndCLI(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := jwtkey.NewMemoryStore()
	server := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
	oldActive := onlyKey(t, server, jwtkey.StateActive)
	oldNext := onlyKey(t, server, jwtkey.StateNext)

	cli := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
	if err := cli.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if sk, _ := server.Signer(); sk.ID != oldActive {
		t.Fatal("server changed keys before reloading")
	}
	if err := server.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if sk, _ := server.Signer(); sk.ID != oldNext {
		t.Fatalf("server signs with %s after Reload, want the CLI's new active %s", sk.ID, oldNext)
	}
	if !verifies(server, oldActive) {
		t.Fatal("server stopped verifying the retiring key")
	}
	if !slices.Equal(server.Keys(), cli.Keys()) {
		t.Fatalf("server and CLI disagree:\n%+v\n%+v", server.Keys(), cli.Keys())
	}

	// The CLI revokes the active key; the server's Maintain picks it up.
	if err := cli.Revoke(ctx, oldNext); err != nil {
		t.Fatal(err)
	}
	if rotated, err := server.Maintain(ctx); err != nil || rotated {
		t.Fatalf("Maintain = %v, %v", rotated, err)
	}
	if verifies(server, oldNext) {
		t.Fatal("server still verifies the key the CLI revoked")
	}
	cliActive := onlyKey(t, cli, jwtkey.StateActive)
	if sk, _ := server.Signer(); sk.ID != cliActive {
		t.Fatalf("server signs with %s, CLI promoted %s", sk.ID, cliActive)
	}

	// The server rotating from a stale view must not revive the revoked
	// key (the store keeps revocation final) and the two converge.
	if err := server.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cli.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(server.Keys(), cli.Keys()) {
		t.Fatalf("server and CLI disagree after rotation:\n%+v\n%+v", server.Keys(), cli.Keys())
	}
	if !slices.Contains(keyIn(t, cli, jwtkey.StateRevoked), oldNext) {
		t.Fatal("revoked key is no longer revoked")
	}
}

// staleStore serves one stale LoadKeys result, as a process that loaded
// just before another one saved would see.
type staleStore struct {
	*jwtkey.MemoryStore
	stale []jwtkey.StoredKey
}

func (s *staleStore) LoadKeys(ctx context.Context) ([]jwtkey.StoredKey, error) {
	if s.stale != nil {
		k := s.stale
		s.stale = nil
		return k, nil
	}
	return s.MemoryStore.LoadKeys(ctx)
}

// TestConcurrentRotations: two processes rotate from the same view. The
// store then holds two next keys, or two active keys; the next load
// repairs it without dropping a key that may have signed.
func TestConcurrentRotations(t *testing.T) {
	ctx := context.Background()
	t.Run("two next keys", func(t *testing.T) {
		clock := newClock()
		store := jwtkey.NewMemoryStore()
		a := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
		b := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
		view, _ := store.LoadKeys(ctx)
		if err := a.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		bs := &staleStore{MemoryStore: store, stale: view}
		stale, err := jwtkey.Open(ctx, opts(jwtkey.EdDSA, bs, clock)) // loads the stale view
		if err != nil {
			t.Fatal(err)
		}
		bs.stale = view
		if err := stale.Rotate(ctx); err != nil { // rotates from the stale view
			t.Fatal(err)
		}
		raw, _ := store.LoadKeys(ctx)
		nexts := 0
		for _, k := range raw {
			if k.State == jwtkey.StateNext {
				nexts++
			}
		}
		if nexts != 2 {
			t.Fatalf("the race did not happen: %d next keys stored", nexts)
		}
		for _, r := range []*jwtkey.Ring{a, b} {
			if err := r.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			onlyKey(t, r, jwtkey.StateActive)
			onlyKey(t, r, jwtkey.StateNext)
			onlyKey(t, r, jwtkey.StateRetiring)
		}
		if !slices.Equal(a.Keys(), b.Keys()) {
			t.Fatalf("rings disagree after repair:\n%+v\n%+v", a.Keys(), b.Keys())
		}
	})
	t.Run("two active keys", func(t *testing.T) {
		clock := newClock()
		store := jwtkey.NewMemoryStore()
		a := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
		first := onlyKey(t, a, jwtkey.StateActive)
		second := onlyKey(t, a, jwtkey.StateNext)
		view, _ := store.LoadKeys(ctx) // first active, second next
		var rotatedOut []string
		for range 2 { // a rotates twice while b sleeps on its view
			clock.Advance(time.Minute)
			rotatedOut = append(rotatedOut, onlyKey(t, a, jwtkey.StateActive))
			if err := a.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		third := onlyKey(t, a, jwtkey.StateActive)
		if !slices.Equal(rotatedOut, []string{first, second}) {
			t.Fatalf("unexpected rotation order %v", rotatedOut)
		}
		clock.Advance(time.Second)
		bs := &staleStore{MemoryStore: store, stale: view}
		b, err := jwtkey.Open(ctx, opts(jwtkey.EdDSA, bs, clock))
		if err != nil {
			t.Fatal(err)
		}
		bs.stale = view
		if err := b.Rotate(ctx); err != nil { // from the stale view: first retiring, second active again
			t.Fatal(err)
		}
		raw, _ := store.LoadKeys(ctx)
		actives := 0
		for _, k := range raw {
			if k.State == jwtkey.StateActive {
				actives++
			}
		}
		if actives != 2 {
			t.Fatalf("the race did not happen: %d active keys stored", actives)
		}
		c := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
		onlyKey(t, c, jwtkey.StateActive)
		onlyKey(t, c, jwtkey.StateNext)
		for _, kid := range []string{first, second, third} {
			if !verifies(c, kid) {
				t.Errorf("key %s stopped verifying after the race", kid)
			}
		}
		if err := a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Keys(), c.Keys()) {
			t.Fatalf("rings disagree after repair:\n%+v\n%+v", a.Keys(), c.Keys())
		}
	})
}

func TestJWKS(t *testing.T) {
	type member = map[string]any
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			r := mustOpen(t, opts(alg, jwtkey.NewMemoryStore(), newClock()))
			if err := r.Rotate(ctx); err != nil { // active, next and retiring
				t.Fatal(err)
			}
			raw := r.JWKS()
			if alg == jwtkey.HS256 {
				if string(raw) != `{"keys":[]}` {
					t.Fatalf("HS256 JWKS = %s, want {\"keys\":[]}", raw)
				}
				return
			}
			var set map[string][]member
			if err := json.Unmarshal(raw, &set); err != nil {
				t.Fatalf("JWKS is not JSON: %v\n%s", err, raw)
			}
			if len(set) != 1 || len(set["keys"]) != 3 {
				t.Fatalf("JWKS = %s; want {\"keys\": [3 keys]}", raw)
			}
			allowed := map[string]bool{"kid": true, "kty": true, "crv": true, "x": true, "y": true, "alg": true, "use": true}
			for _, k := range set["keys"] {
				for name := range k {
					if !allowed[name] {
						t.Errorf("JWK has member %q: %s", name, raw)
					}
				}
				kid, _ := k["kid"].(string)
				if k["alg"] != string(alg) || k["use"] != "sig" {
					t.Errorf("alg %v use %v", k["alg"], k["use"])
				}
				xs, _ := k["x"].(string)
				x, err := base64.RawURLEncoding.DecodeString(xs)
				if err != nil {
					t.Fatalf("x is not base64url: %v", err)
				}
				vk, ok := r.Verifier(kid)
				if !ok {
					t.Fatalf("published kid %q does not verify", kid)
				}
				switch alg {
				case jwtkey.EdDSA:
					if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["y"] != nil || len(x) != ed25519.PublicKeySize {
						t.Errorf("Ed25519 JWK members: %v", k)
					}
					if ok && !bytes.Equal(x, vk.Key.(ed25519.PublicKey)) {
						t.Fatalf("x does not decode to the verifying key")
					}
				case jwtkey.ES256:
					if k["kty"] != "EC" || k["crv"] != "P-256" {
						t.Errorf("P-256 JWK members: %v", k)
					}
					ys, _ := k["y"].(string)
					y, err := base64.RawURLEncoding.DecodeString(ys)
					if err != nil || len(x) != 32 || len(y) != 32 {
						t.Fatalf("x, y must be 32 bytes: %d, %d, %v", len(x), len(y), err)
					}
					if !ok {
						continue
					}
					pub := vk.Key.(*ecdsa.PublicKey)
					point, _ := pub.Bytes()
					if !bytes.Equal(point[1:33], x) || !bytes.Equal(point[33:], y) {
						t.Fatal("x, y do not decode to the verifying key")
					}
					rebuilt, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
					if err != nil || !pub.Equal(rebuilt) {
						t.Fatal("x, y do not rebuild the verifying key")
					}
				}
			}
			if bytes.Contains(raw, []byte(`"d"`)) {
				t.Fatal(`JWKS contains a "d" member`)
			}
			// The bytes returned are a copy.
			raw[0] = 'X'
			if r.JWKS()[0] != '{' {
				t.Fatal("JWKS returned the cached slice")
			}
		})
	}
}

func TestVerifierRefuses(t *testing.T) {
	r := mustOpen(t, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
	active := onlyKey(t, r, jwtkey.StateActive)
	tests := []struct {
		name string
		kid  string
		want bool
	}{
		{"active", active, true},
		{"next", onlyKey(t, r, jwtkey.StateNext), true},
		{"empty", "", false},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAA", false},
		{"prefix", active[:10], false},
		{"over-long", active + strings.Repeat("A", jwtkey.MaxKIDLength), false},
		{"with NUL", active + "\x00", false},
		{"path", "../../etc/passwd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vk, ok := r.Verifier(tt.kid)
			if ok != tt.want {
				t.Fatalf("Verifier(%q) = %v, want %v", tt.kid, ok, tt.want)
			}
			if !ok && (vk.Key != nil || vk.ID != "") {
				t.Fatal("a refused Verifier returned a key")
			}
		})
	}
}

func TestZeroRing(t *testing.T) {
	var r jwtkey.Ring
	if _, err := r.Signer(); !errors.Is(err, jwtkey.ErrNoActiveKey) {
		t.Fatalf("Signer = %v", err)
	}
	if _, ok := r.Verifier("x"); ok {
		t.Fatal("zero Ring verifies")
	}
	if string(r.JWKS()) != `{"keys":[]}` || r.Keys() != nil {
		t.Fatal("zero Ring publishes keys")
	}
}

func TestKids(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		r := mustOpen(t, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
		for _, k := range r.Keys() {
			b, err := base64.RawURLEncoding.DecodeString(k.ID)
			if err != nil || len(b) < 12 {
				t.Fatalf("kid %q is not >= 96 random bits in base64url", k.ID)
			}
			if seen[k.ID] {
				t.Fatalf("kid %s repeated", k.ID)
			}
			seen[k.ID] = true
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// failingStore fails SaveKeys when fail is set.
type failingStore struct {
	*jwtkey.MemoryStore
	mu   sync.Mutex
	fail bool
}

func (s *failingStore) SaveKeys(ctx context.Context, keys []jwtkey.StoredKey) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return s.MemoryStore.SaveKeys(ctx, keys)
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("random source fails", func(t *testing.T) {
		o := opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock())
		o.Rand = failingReader{}
		if _, err := jwtkey.Open(ctx, o); err == nil || !strings.Contains(err.Error(), "entropy exhausted") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("save fails", func(t *testing.T) {
		clock := newClock()
		store := &failingStore{MemoryStore: jwtkey.NewMemoryStore()}
		r := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
		before := r.Keys()
		beforeJWKS := r.JWKS()
		store.fail = true
		if err := r.Rotate(ctx); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Rotate = %v", err)
		}
		if err := r.Revoke(ctx, before[0].ID); err == nil {
			t.Fatal("Revoke succeeded without saving")
		}
		clock.Advance(jwtkey.DefaultRotateEvery)
		if rotated, err := r.Maintain(ctx); err == nil || rotated {
			t.Fatalf("Maintain = %v, %v", rotated, err)
		}
		if !slices.Equal(before, r.Keys()) || !bytes.Equal(beforeJWKS, r.JWKS()) {
			t.Fatal("an unsaved change took effect")
		}
		if sk, _ := r.Signer(); sk.ID != onlyKey(t, r, jwtkey.StateActive) {
			t.Fatal("signer changed")
		}
		o := opts(jwtkey.EdDSA, store, clock)
		if _, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: o.MasterKey, Store: &failingStore{MemoryStore: jwtkey.NewMemoryStore(), fail: true}}); err == nil {
			t.Fatal("Open on a store that cannot save succeeded")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := jwtkey.Open(cctx, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock())); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open = %v", err)
		}
	})
}

// TestAlgChange: keys keep their algorithm when Options.Alg changes.
func TestAlgChange(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := jwtkey.NewMemoryStore()
	mustOpen(t, opts(jwtkey.EdDSA, store, clock))
	r := mustOpen(t, opts(jwtkey.ES256, store, clock))
	for step, want := range []jwtkey.Alg{jwtkey.EdDSA, jwtkey.EdDSA, jwtkey.ES256} {
		sk, _ := r.Signer()
		if sk.Alg != want {
			t.Fatalf("step %d: signing with %s, want %s", step, sk.Alg, want)
		}
		vk, _ := r.Verifier(sk.ID)
		signAndVerify(t, sk, vk)
		if err := r.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLogs: life-cycle events are logged, key material never.
func TestLogs(t *testing.T) {
	var buf bytes.Buffer
	o := opts(jwtkey.HS256, jwtkey.NewMemoryStore(), newClock())
	o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	r := mustOpen(t, o)
	sk, _ := r.Signer()
	if err := r.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Revoke(context.Background(), sk.ID); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"key created", "key activated", "key retiring", "key revoked", sk.ID} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	secret := sk.Key.([]byte)
	for _, enc := range []string{base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret), string(secret)} {
		if strings.Contains(out, enc) {
			t.Fatal("log contains the HMAC key")
		}
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var s jwtkey.MemoryStore // zero value is usable
	k := jwtkey.StoredKey{ID: "a", State: jwtkey.StateActive, Sealed: []byte{1, 2, 3}}
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{k}); err != nil {
		t.Fatal(err)
	}
	k.Sealed[0] = 9 // the store holds a copy
	got, _ := s.LoadKeys(ctx)
	if len(got) != 1 || got[0].Sealed[0] != 1 {
		t.Fatalf("store shares the caller's bytes: %+v", got)
	}
	got[0].Sealed[0] = 7
	if again, _ := s.LoadKeys(ctx); again[0].Sealed[0] != 1 {
		t.Fatal("LoadKeys returned the stored bytes")
	}

	tests := []struct {
		name string
		keys []jwtkey.StoredKey
	}{
		{"empty id", []jwtkey.StoredKey{{ID: "b"}, {ID: ""}}},
		{"duplicate id", []jwtkey.StoredKey{{ID: "b"}, {ID: "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SaveKeys(ctx, tt.keys); err == nil {
				t.Fatal("SaveKeys accepted an invalid batch")
			}
			if all, _ := s.LoadKeys(ctx); len(all) != 1 {
				t.Fatalf("a failed SaveKeys wrote %d keys", len(all)-1)
			}
		})
	}

	t.Run("revocation is final", func(t *testing.T) {
		now := time.Now()
		s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "a", State: jwtkey.StateRevoked, RevokedAt: now}})
		s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "a", State: jwtkey.StateActive, Sealed: []byte{1}}})
		got, _ := s.LoadKeys(ctx)
		if got[0].State != jwtkey.StateRevoked || !got[0].RevokedAt.Equal(now) {
			t.Fatalf("revoked row revived: %+v", got[0])
		}
	})

	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.LoadKeys(cctx); err == nil {
			t.Fatal("LoadKeys ignored a canceled context")
		}
		if err := s.SaveKeys(cctx, nil); err == nil {
			t.Fatal("SaveKeys ignored a canceled context")
		}
	})
}

// TestConcurrentUse: verification and signing never fail while another
// goroutine rotates, maintains and reloads. Run with -race.
func TestConcurrentUse(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			r := mustOpen(t, opts(alg, jwtkey.NewMemoryStore(), clock))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan string, 16)
			for range 8 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						sk, err := r.Signer()
						if err != nil {
							errs <- err.Error()
							return
						}
						// The key just handed out for signing must verify:
						// a rotation in between leaves it retiring.
						vk, ok := r.Verifier(sk.ID)
						if !ok || vk.ID != sk.ID || vk.Alg != alg {
							errs <- "the signing key did not verify during rotation"
							return
						}
						_ = r.JWKS()
						_ = r.Keys()
					}
				})
			}
			for i := range 50 {
				var err error
				switch i % 3 {
				case 0:
					err = r.Rotate(ctx)
				case 1:
					_, err = r.Maintain(ctx)
				case 2:
					err = r.Reload(ctx)
				}
				if err != nil {
					t.Error(err)
				}
				// 50 steps of 10s stay within MaxTokenLifetime+Leeway, so
				// every key handed out by Signer must still verify, however
				// late the goroutine checks it.
				clock.Advance(10 * time.Second)
			}
			close(stop)
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}
}

func BenchmarkVerifier(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			o := opts(alg, jwtkey.NewMemoryStore(), newClock())
			o.Now = nil // the real clock, as in production
			r := mustOpen(b, o)
			if err := r.Rotate(context.Background()); err != nil {
				b.Fatal(err)
			}
			active := onlyKey(b, r, jwtkey.StateActive)
			retiring := onlyKey(b, r, jwtkey.StateRetiring) // takes the clock path
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				kid := active
				if i&1 == 1 {
					kid = retiring
				}
				if _, ok := r.Verifier(kid); !ok {
					b.Fatal("no key")
				}
			}
		})
	}
	b.Run("unknown", func(b *testing.B) {
		r := mustOpen(b, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := r.Verifier("AAAAAAAAAAAAAAAAAAAAAA"); ok {
				b.Fatal("unknown kid verified")
			}
		}
	})
}

func BenchmarkVerifierParallel(b *testing.B) {
	r := mustOpen(b, jwtkey.Options{MasterKey: masterKey("A"), Store: jwtkey.NewMemoryStore()})
	sk, _ := r.Signer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := r.Verifier(sk.ID); !ok {
				b.Fatal("no key")
			}
		}
	})
}

func BenchmarkSigner(b *testing.B) {
	r := mustOpen(b, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Signer(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWKS(b *testing.B) {
	r := mustOpen(b, opts(jwtkey.EdDSA, jwtkey.NewMemoryStore(), newClock()))
	b.ReportAllocs()
	for b.Loop() {
		_ = r.JWKS()
	}
}

func BenchmarkMaintain(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			r := mustOpen(b, opts(alg, jwtkey.NewMemoryStore(), newClock()))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Maintain(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReloadRejectsTampering: a ring that already holds a key still opens
// the sealed blob again when the stored bytes change, and a failed Reload
// keeps the keys it had.
func TestReloadRejectsTampering(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := jwtkey.NewMemoryStore()
	r := mustOpen(t, opts(jwtkey.EdDSA, store, clock))
	before := r.Keys()
	sk, _ := r.Signer()
	stored, _ := store.LoadKeys(ctx)
	for i := range stored {
		if stored[i].ID == sk.ID {
			stored[i].Sealed[len(stored[i].Sealed)-3] ^= 1
		}
	}
	if err := store.SaveKeys(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(ctx); !errors.Is(err, jwtkey.ErrCorruptKey) {
		t.Fatalf("Reload after tampering = %v, want ErrCorruptKey", err)
	}
	if rotated, err := r.Maintain(ctx); !errors.Is(err, jwtkey.ErrCorruptKey) || rotated {
		t.Fatalf("Maintain after tampering = %v, %v, want ErrCorruptKey", rotated, err)
	}
	if !slices.Equal(before, r.Keys()) || !verifies(r, sk.ID) {
		t.Fatal("a failed Reload changed the ring")
	}
	if got, _ := r.Signer(); got.ID != sk.ID {
		t.Fatal("a failed Reload changed the signer")
	}
}

// TestLongerLifetimeWins: a ring configured for longer-lived tokens keeps
// a key retired by another ring (with the default lifetime) verifying for
// its own, longer, lifetime.
func TestLongerLifetimeWins(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := jwtkey.NewMemoryStore()
	so := opts(jwtkey.EdDSA, store, clock)
	so.MaxTokenLifetime = time.Hour
	server := mustOpen(t, so)
	old := onlyKey(t, server, jwtkey.StateActive)

	cli := mustOpen(t, opts(jwtkey.EdDSA, store, clock)) // 15-minute default
	if err := cli.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	if _, err := server.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if !verifies(server, old) {
		t.Fatal("the server stopped verifying a key its own tokens (1h) may still use")
	}
	for _, k := range server.Keys() {
		if k.ID == old {
			if want := k.RetiringAt.Add(time.Hour + jwtkey.DefaultLeeway); !k.RetiredAt.Equal(want) {
				t.Fatalf("RetiredAt = %v, want %v", k.RetiredAt, want)
			}
		}
	}
	clock.Advance(30*time.Minute + jwtkey.DefaultLeeway)
	if verifies(server, old) {
		t.Fatal("the key verifies past its longest lifetime")
	}
}

// TestVerifierDoesNotAllocate backs the doc comment: Verifier runs on every
// token verification, hits and misses alike.
func TestVerifierDoesNotAllocate(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			r := mustOpen(t, opts(alg, jwtkey.NewMemoryStore(), newClock()))
			active := onlyKey(t, r, jwtkey.StateActive)
			for _, kid := range []string{active, "AAAAAAAAAAAAAAAAAAAAAA", ""} {
				if n := testing.AllocsPerRun(100, func() { r.Verifier(kid) }); n != 0 {
					t.Errorf("Verifier(%q): %v allocations", kid, n)
				}
			}
		})
	}
}

// TestPeerVerifiesAfterRotation: two servers' rings on one store. A
// rotates and at once signs a token with the key it promoted; B, which has
// not reloaded since before the rotation, verifies it (the key is B's
// next key). A second rotation on A before B reloads is the case B cannot
// cover: the key it promotes was created after B's last load.
func TestPeerVerifiesAfterRotation(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			store := jwtkey.NewMemoryStore()
			a := mustOpen(t, opts(alg, store, clock))
			b := mustOpen(t, opts(alg, store, clock))
			msg := []byte("header.payload")

			tests := []struct {
				name       string
				reloadB    bool // B reloads after the previous rotation, before this one
				wantVerify bool
			}{
				{"first rotation, B loaded before it", false, true},
				{"second rotation, B did not reload after the first", false, false},
				{"third rotation, B reloaded after the second", true, true},
			}
			for _, tt := range tests {
				if tt.reloadB {
					if err := b.Reload(ctx); err != nil {
						t.Fatal(err)
					}
				}
				clock.Advance(time.Hour)
				if err := a.Rotate(ctx); err != nil {
					t.Fatal(err)
				}
				sk, err := a.Signer()
				if err != nil {
					t.Fatal(err)
				}
				sig := sign(t, sk, msg)
				vk, ok := b.Verifier(sk.ID)
				if ok != tt.wantVerify {
					t.Fatalf("%s: B's Verifier(%s) = %v, want %v", tt.name, sk.ID, ok, tt.wantVerify)
				}
				if ok && (vk.Alg != alg || !verify(t, vk, msg, sig)) {
					t.Fatalf("%s: B does not verify A's signature with the key it found", tt.name)
				}
			}
		})
	}
}
