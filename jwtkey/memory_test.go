package jwtkey

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestNewMemoryRing: a ring without set-up whose keys come from the
// injected randomness, that refuses a caller's master key or store, and
// that says at creation that it is in memory.
func TestNewMemoryRing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seeded := func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 64)) }
	a, err := NewMemoryRing(ctx, Options{Rand: seeded()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMemoryRing(ctx, Options{Rand: seeded()})
	if err != nil {
		t.Fatal(err)
	}
	ka, _ := a.Signer()
	kb, _ := b.Signer()
	if ka.ID != kb.ID {
		t.Errorf("the same randomness made kids %q and %q: the keys do not come from Options.Rand", ka.ID, kb.ID)
	}
	c, err := NewMemoryRing(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if kc, _ := c.Signer(); kc.ID == ka.ID {
		t.Error("crypto/rand gave the seeded kid")
	}
	for name, o := range map[string]Options{
		"master key": {MasterKey: bytes.Repeat([]byte{7}, MasterKeySize)},
		"store":      {Store: NewMemoryStore()},
	} {
		if _, err := NewMemoryRing(ctx, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: %v, want ErrInvalidOptions", name, err)
		}
	}
	if _, err := NewMemoryRing(ctx, Options{Rand: bytes.NewReader(make([]byte, 8))}); err == nil {
		t.Error("a randomness source that runs dry was accepted")
	}
	var logs strings.Builder
	if _, err := NewMemoryRing(ctx, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "in-memory key ring") {
		t.Errorf("no warning at creation:\n%s", logs.String())
	}
}
