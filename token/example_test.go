package token_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/token"
)

// oneKey is a KeySource with a single Ed25519 key; a jwtkey.Ring is the
// real one.
type oneKey struct {
	sk jwtkey.SigningKey
	vk jwtkey.VerifyingKey
}

func (k oneKey) Signer() (jwtkey.SigningKey, error) { return k.sk, nil }

func (k oneKey) Verifier(kid string) (jwtkey.VerifyingKey, bool) {
	return k.vk, kid == k.vk.ID
}

func Example() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	keys := oneKey{
		sk: jwtkey.SigningKey{ID: "k1", Alg: jwtkey.EdDSA, Key: priv},
		vk: jwtkey.VerifyingKey{ID: "k1", Alg: jwtkey.EdDSA, Key: pub},
	}
	revocations := token.NewRevocations(token.RevocationsOptions{})
	svc, err := token.New(token.Options{
		Issuer:      "https://api.example",
		Audience:    "fortapi",
		Keys:        keys,
		Revocations: revocations,
	})
	if err != nil {
		panic(err)
	}

	tok, _, err := svc.Issue("user-42", "session-7", []string{"items:read"})
	if err != nil {
		panic(err)
	}
	claims, err := svc.Verify(context.Background(), tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject, claims.HasScope("items:read"), claims.HasScope("users:admin"))

	// Logout: the session's tokens are refused at once, cached or not.
	revocations.RevokeSession(claims.SessionID, claims.ExpiresAt)
	_, err = svc.Verify(context.Background(), tok)
	fmt.Println(errors.Is(err, token.ErrInvalidToken))
	// Output:
	// user-42 true false
	// true
}
