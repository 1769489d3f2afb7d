package password_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fortapi/fortapi/password"
)

// A login handler: unknown users cost the same as wrong passwords, a
// saturated hasher becomes 503 + Retry-After, and legacy hashes are
// upgraded after a successful login.
func Example() {
	ctx := context.Background()
	hasher, err := password.NewHasher(password.HasherOptions{})
	if err != nil {
		panic(err)
	}
	users := map[string]string{ // username -> stored hash
		"alice": "$2b$04$.jcPqPuDtcPPlgMwoXMysOib.gX8r.tecbKt7EkmsKhug52S5PBwS", // legacy bcrypt of "password1"
	}

	login := func(username, pw string) string {
		stored, found := users[username]
		if !found {
			if err := hasher.VerifyDummy(ctx, pw); err != nil {
				return "503" // *BusyError: answer 503 with Retry-After
			}
			return "invalid username or password"
		}
		ok, err := hasher.Verify(ctx, pw, stored)
		var busy *password.BusyError
		switch {
		case errors.As(err, &busy):
			return fmt.Sprintf("503, Retry-After: %.0f", busy.RetryAfter.Seconds())
		case err != nil:
			return "500" // ErrMalformedHash: a corrupt user record
		case !ok:
			return "invalid username or password"
		}
		if hasher.NeedsRehash(stored) {
			if h, err := hasher.Hash(ctx, pw); err == nil {
				users[username] = h
			}
		}
		return "welcome " + username
	}

	fmt.Println(login("alice", "password2"))
	fmt.Println(login("bob", "password1"))
	fmt.Println(login("alice", "password1"))
	fmt.Println(hasher.NeedsRehash(users["alice"]))
	fmt.Println(login("alice", "password1"))
	// Output:
	// invalid username or password
	// invalid username or password
	// welcome alice
	// false
	// welcome alice
}

func ExamplePolicy_Check() {
	policy := password.DefaultPolicy()
	for _, pw := range []string{"short", "Password", "ＰＡＳＳＷＯＲＤ", "alice.liddell", "correct horse battery staple"} {
		err := policy.Check(pw, "Alice.Liddell")
		var pe *password.PolicyError
		if errors.As(err, &pe) {
			fmt.Printf("%s: %v\n", pe.Reason, err)
			continue
		}
		fmt.Println("ok")
	}
	// Output:
	// too_short: password must be at least 8 characters long
	// common: password is too common; choose one that is harder to guess
	// common: password is too common; choose one that is harder to guess
	// equals_username: password must not be the same as the username
	// ok
}
