package secret_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/fortapi/fortapi/secret"
)

// A Secret never prints: fmt, JSON and slog all show [REDACTED]; only
// Reveal gives the bytes, where they are used.
func ExampleSecret() {
	s := secret.NewString("hunter2-hunter2-hunter2")
	fmt.Println(s)
	fmt.Printf("%v %+v %q\n", s, s, s)
	fmt.Println(s.Len(), s.Equal(secret.NewString("hunter2-hunter2-hunter2")))
	// Output:
	// [REDACTED]
	// [REDACTED] [REDACTED] [REDACTED]
	// 23 true
}

// Load a secret from NAME or the file named by NAME_FILE (how container
// platforms mount secrets), then refuse a placeholder before using it.
func ExampleFromEnv() {
	env := map[string]string{"API_KEY": "changeme"}
	l, err := secret.FromEnv(func(k string) string { return env[k] }, "API_KEY")
	fmt.Println(l.Source, err)
	fmt.Println(secret.CheckStrength(l.Secret, 32) != nil)

	_, err = secret.FromEnv(func(string) string { return "" }, "MASTER_KEY")
	fmt.Println(errors.Is(err, secret.ErrNotSet))
	// Output:
	// $API_KEY <nil>
	// true
	// true
}

// The redacting handler hides credentials that reach a log by mistake:
// sensitive keys, bearer tokens and JWTs inside messages and values.
func ExampleNewRedactingHandler() {
	inner := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	log := slog.New(secret.NewRedactingHandler(inner))
	log.Info("login", "user", "alice", "password", "correct horse", "header", "Authorization: Bearer abc.def.ghi")
	// Output:
	// level=INFO msg=login user=alice password=[REDACTED] header="Authorization: Bearer [REDACTED]"
}
