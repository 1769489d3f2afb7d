package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestMessageJSONEqualsReflection: GET /protected's body appends exactly
// what encoding/json writes for it by reflection (the type without the
// method), after a prefix it keeps, for hostile and random messages.
func TestMessageJSONEqualsReflection(t *testing.T) {
	type reflected messageOutputBody // the fields without the method
	msgs := append([]string(nil), hostileStrings...)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 5000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		msgs = append(msgs, string(b), "Hello, "+string(b)+": your token is valid.")
	}
	prefix := []byte("prefix")
	for _, m := range msgs {
		want, err := json.Marshal(reflected{Message: m})
		if err != nil {
			t.Fatal(err)
		}
		got, err := messageOutputBody{Message: m}.AppendFortapiJSON(prefix[:len(prefix):len(prefix)])
		if err != nil || !bytes.Equal(got, append(prefix[:len(prefix):len(prefix)], want...)) {
			t.Fatalf("message %q: got %q, %v; encoding/json writes %q", m, got, err, want)
		}
	}
}
