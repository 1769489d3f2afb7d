package jwtkey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/token"
)

// For development and tests: a key ring in memory, nothing to set up.
// Its keys are gone when the process exits, and other instances have
// keys of their own — not for production with several instances.
func ExampleNewMemoryRing() {
	ctx := context.Background()
	ring, err := jwtkey.NewMemoryRing(ctx, jwtkey.Options{})
	if err != nil {
		panic(err)
	}
	var states []string
	for _, k := range ring.Keys() {
		states = append(states, string(k.Alg)+" "+string(k.State))
	}
	slices.Sort(states) // keys created in the same instant have no order
	fmt.Println(states)

	// The ring is a token.KeySource.
	tokens, err := token.New(token.Options{Issuer: "https://notes.example", Audience: "notes", Keys: ring})
	if err != nil {
		panic(err)
	}
	tok, _, err := tokens.Issue("user-1", "session-1", []string{"notes:read"})
	if err != nil {
		panic(err)
	}
	c, err := tokens.Verify(ctx, tok)
	fmt.Println(c.Subject, c.Scopes, err)

	// A master key is never accepted: that is Open's job.
	_, err = jwtkey.NewMemoryRing(ctx, jwtkey.Options{MasterKey: make([]byte, 32)})
	fmt.Println(err != nil)
	// Output:
	// [EdDSA active EdDSA next]
	// user-1 [notes:read] <nil>
	// true
}

// A production ring: keys sealed under a 32-byte master key (from a
// secret store, here fixed for the example) in a Store the instances
// share; the JWKS publishes the public halves only.
func ExampleOpen() {
	ctx := context.Background()
	master := []byte("0123456789abcdef0123456789abcdef") // use secret.LoadOrGenerate
	store := jwtkey.NewMemoryStore()                     // a database in production
	ring, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store})
	if err != nil {
		panic(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(ring.JWKS(), &jwks)
	_, private := jwks.Keys[0]["d"]
	fmt.Println(len(jwks.Keys), jwks.Keys[0]["kty"], jwks.Keys[0]["crv"], private)

	// A second instance on the same store and master key sees the same keys.
	peer, err := jwtkey.Open(ctx, jwtkey.Options{MasterKey: master, Store: store})
	if err != nil {
		panic(err)
	}
	a, _ := ring.Signer()
	b, _ := peer.Signer()
	fmt.Println(a.ID == b.ID)
	// Output:
	// 2 OKP Ed25519 false
	// true
}
