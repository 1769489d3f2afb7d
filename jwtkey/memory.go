package jwtkey

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
)

// NewMemoryRing returns a Ring for development and tests: its keys live in
// this process's memory only (a MemoryStore), sealed under a master key
// drawn from opts.Rand (crypto/rand by default) that is never shown nor
// stored. Nothing needs setting up — no master key, no database — and
// nothing survives: when the process exits the keys are gone, and every
// token they signed stops verifying at the next start (users log in
// again).
//
// It is NOT for production with more than one instance: each process has
// keys of its own, so a token issued by one instance is refused by the
// others. A single long-lived instance may use it if losing every login
// at a restart is acceptable; otherwise Open a Ring on a Store shared by
// every instance, with a master key from a secret store.
//
// opts.MasterKey and opts.Store must be unset (they are what NewMemoryRing
// supplies); the other options apply as for Open, and opts.Rand also
// generates the keys. With opts.Logger the Ring says at creation that it
// is in memory.
func NewMemoryRing(ctx context.Context, opts Options) (*Ring, error) {
	if opts.MasterKey != nil || opts.Store != nil {
		return nil, fmt.Errorf("%w: NewMemoryRing makes its own MasterKey and Store; use Open to supply them", ErrInvalidOptions)
	}
	random := opts.Rand
	if random == nil {
		random = rand.Reader
	}
	master := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(random, master); err != nil {
		return nil, fmt.Errorf("jwtkey: reading random bytes for the in-memory master key: %w", err)
	}
	opts.MasterKey, opts.Store = master, NewMemoryStore()
	r, err := Open(ctx, opts)
	clear(master) // Open keeps a copy
	if err != nil {
		return nil, err
	}
	if opts.Logger != nil {
		opts.Logger.LogAttrs(ctx, slog.LevelWarn, "jwtkey: in-memory key ring: its keys are lost when the process exits "+
			"and are not shared with other instances; not for production with several instances")
	}
	return r, nil
}
