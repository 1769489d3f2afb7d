package secret

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

// A real-looking access token (header {"alg":"EdDSA","kid":"k1","typ":"at+jwt"}).
const testJWT = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoiaXRlbXM6cmVhZCJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtc2lnbmF0dXJlLWJ5dGVz"

const opaque = "r7Hk2pQx9vLm4NwZ8sTy1AbCdEfGhIjKlMnOpQrStUv" // a refresh token

func newTestLogger(buf *bytes.Buffer, opts ...RedactOption) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), opts...))
}

func TestRedactingHandlerSensitiveKeys(t *testing.T) {
	const val = "v4lue-that-must-not-leak"
	keys := []string{
		"password", "Password", "user_password", "new-password", "passwd", "passphrase",
		"token", "access_token", "refresh_token", "Refresh-Token", "id_token", "accessToken",
		"secret", "client_secret", "jwt_secret",
		"authorization", "Authorization", "Proxy-Authorization",
		"cookie", "Cookie", "set-cookie", "Set-Cookie",
		"csrf", "csrf_token", "X-CSRF-Token", "xsrf-token",
		"api_key", "apiKey", "X-API-Key", "private_key", "privateKey",
	}
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			for _, v := range []any{val, 123456, []byte(val), map[string]string{"v": val}, errors.New(val)} {
				var buf bytes.Buffer
				newTestLogger(&buf).Info("login", k, v)
				var rec map[string]any
				if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
					t.Fatal(err)
				}
				if rec[k] != Redacted || strings.Contains(buf.String(), val) || strings.Contains(buf.String(), "123456") {
					t.Errorf("%T under %q: %s", v, k, buf.String())
				}
			}
		})
	}
	harmless := map[string]any{
		"user": "alice", "path": "/token", "method": "POST", "status": 401,
		"token_count": 3, "token_type": "Bearer", "cookie_name": "__Host-session",
		"csrf_max_age": "12h", "refresh_token_ttl": "720h", "token_expires_at": "2026-01-01T00:00:00Z",
		"secrets_loaded": nil,
	}
	for k, v := range harmless {
		if k == "secrets_loaded" {
			continue // sensitive: contains "secret", and "loaded" is no exempt suffix
		}
		t.Run("harmless "+k, func(t *testing.T) {
			var buf bytes.Buffer
			newTestLogger(&buf).Info("m", k, v)
			if strings.Contains(buf.String(), Redacted) {
				t.Errorf("%s was redacted: %s", k, buf.String())
			}
		})
	}
}

func TestRedactingHandlerStructure(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // the JSON line without time
	}{
		{"nested groups", func(l *slog.Logger) {
			l.Info("req", slog.Group("http", slog.Group("headers", "Authorization", "Bearer "+opaque, "Accept", "application/json"), "status", 200))
		}, `{"level":"INFO","msg":"req","http":{"headers":{"Authorization":"[REDACTED]","Accept":"application/json"},"status":200}}`},
		{"sensitive group name", func(l *slog.Logger) {
			l.Info("req", slog.Group("cookies", "session", opaque, "theme", "dark"))
		}, `{"level":"INFO","msg":"req","cookies":"[REDACTED]"}`},
		{"WithGroup harmless", func(l *slog.Logger) {
			l.WithGroup("login").Info("failed", "user", "bob", "password", "hunter2")
		}, `{"level":"INFO","msg":"failed","login":{"user":"bob","password":"[REDACTED]"}}`},
		{"WithGroup sensitive", func(l *slog.Logger) {
			l.WithGroup("secrets").Info("loaded", "master", "k3y", "n", 2)
		}, `{"level":"INFO","msg":"loaded","secrets":{"master":"[REDACTED]","n":"[REDACTED]"}}`},
		{"WithAttrs", func(l *slog.Logger) {
			l.With("api_key", "k3y", "user", "bob").Info("call", "access_token", opaque)
		}, `{"level":"INFO","msg":"call","api_key":"[REDACTED]","user":"bob","access_token":"[REDACTED]"}`},
		{"WithAttrs in a sensitive group", func(l *slog.Logger) {
			l.WithGroup("cookie").With("v", "abc").Info("m")
		}, `{"level":"INFO","msg":"m","cookie":{"v":"[REDACTED]"}}`},
		{"JWT in message", func(l *slog.Logger) {
			l.Info("verified " + testJWT + " ok")
		}, `{"level":"INFO","msg":"verified [REDACTED] ok"}`},
		{"Bearer in attr", func(l *slog.Logger) {
			l.Info("m", "header", "Bearer "+opaque)
		}, `{"level":"INFO","msg":"m","header":"Bearer [REDACTED]"}`},
		{"Basic in attr", func(l *slog.Logger) {
			l.Info("m", "h", "basic YWxpY2U6aHVudGVyMg==")
		}, `{"level":"INFO","msg":"m","h":"basic [REDACTED]"}`},
		{"token in URL", func(l *slog.Logger) {
			l.Info("request", "url", "/callback?code=abc&access_token="+opaque+"&state=xyz")
		}, `{"level":"INFO","msg":"request","url":"/callback?code=abc&access_token=[REDACTED]&state=xyz"}`},
		{"form body", func(l *slog.Logger) {
			l.Info("body", "body", "grant_type=password&username=bob&password=hunter2")
		}, `{"level":"INFO","msg":"body","body":"grant_type=password&username=bob&password=[REDACTED]"}`},
		{"JSON body", func(l *slog.Logger) {
			l.Info("body", "body", `{"username":"bob","password":"hun\"ter2","refresh_token": "`+opaque+`"}`)
		}, `{"level":"INFO","msg":"body","body":"{\"username\":\"bob\",\"password\":\"[REDACTED]\",\"refresh_token\": \"[REDACTED]\"}"}`},
		{"error with a token", func(l *slog.Logger) {
			l.Info("m", "error", errors.New("verify "+testJWT+": expired"))
		}, `{"level":"INFO","msg":"m","error":"verify [REDACTED]: expired"}`},
		{"Secret under any key", func(l *slog.Logger) {
			l.Info("m", "k", NewString("hunter2"))
		}, `{"level":"INFO","msg":"m","k":"[REDACTED]"}`},
		{"LogValuer resolving to a token", func(l *slog.Logger) {
			l.Info("m", "v", valuer(testJWT))
		}, `{"level":"INFO","msg":"m","v":"[REDACTED]"}`},
		{"harmless record untouched", func(l *slog.Logger) {
			l.Info("GET /items", "status", 200, "dur", time.Millisecond, "ip", "192.0.2.1", "token_count", 2, "err", errors.New("plain"))
		}, `{"level":"INFO","msg":"GET /items","status":200,"dur":1000000,"ip":"192.0.2.1","token_count":2,"err":"plain"}`},
		{"English words stay", func(l *slog.Logger) {
			l.Info("missing bearer token; basic validation failed; token=")
		}, `{"level":"INFO","msg":"missing bearer token; basic validation failed; token="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(newTestLogger(&buf))
			if got := strings.TrimSpace(buf.String()); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			for _, s := range []string{"hunter2", "hun\\\"ter2", opaque, testJWT[:20], "YWxpY2U6aHVudGVyMg", "k3y"} {
				if strings.Contains(buf.String(), s) {
					t.Errorf("%q leaked", s)
				}
			}
		})
	}
}

type valuer string

func (v valuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

func TestRedactingHandlerText(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewRedactingHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})))
	l.Info("login "+testJWT, "user", "bob", "password", "hunter2", "hdr", "Bearer "+opaque, "key", NewString("k3y"))
	want := `level=INFO msg="login [REDACTED]" user=bob password=[REDACTED] hdr="Bearer [REDACTED]" key=[REDACTED]`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRedactingHandlerOptions(t *testing.T) {
	var buf bytes.Buffer
	l := newTestLogger(&buf, WithSensitiveKeys("session", "--"), WithAllowedKeys("token_bucket", ""))
	l.Info("m", "session_id", "s1", "token_bucket", "b1", "password", "p1", "note", "session=s2")
	want := `{"level":"INFO","msg":"m","session_id":"[REDACTED]","token_bucket":"b1","password":"[REDACTED]","note":"session=[REDACTED]"}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The options do not change the defaults of other handlers.
	buf.Reset()
	newTestLogger(&buf).Info("m", "session_id", "s1")
	if strings.Contains(buf.String(), Redacted) {
		t.Errorf("options leaked into another handler: %s", buf.String())
	}
}

func TestRedactingHandlerEnabledAndSource(t *testing.T) {
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn, AddSource: true}))
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled does not follow the inner handler")
	}
	slog.New(h).Warn("m", "password", "p")
	if !strings.Contains(buf.String(), `"source":{`) || !strings.Contains(buf.String(), "redact_test.go") {
		t.Errorf("source lost: %s", buf.String())
	}
}

// TestRedactingHandlerConformance runs the standard library's handler
// test suite through the wrapper.
func TestRedactingHandlerConformance(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return NewRedactingHandler(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing to see", "nothing to see"},
		{testJWT, Redacted},
		{"t=" + testJWT + ".", "t=" + Redacted},
		{"(" + testJWT + ")", "(" + Redacted + ")"},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", Redacted}, // alg none: empty signature
		{"eyJ.a.b.c.d", Redacted},                          // JWE: five parts
		{"eyJhbGciOiJub25lIn0 alone", "eyJhbGciOiJub25lIn0 alone"},
		{"eyJa.b", "eyJa.b"},
		{"GET /items/fak_0123456789abcdef_" + opaque + "x", "GET /items/" + Redacted},
		{"key fak_0123456789abcdEF_ABC!", "key " + Redacted + "!"},
		{"x=fak_0123456789abcdef", "x=" + Redacted},
		{"fak_short and unfak_0123456789abcdef", "fak_short and unfak_0123456789abcdef"},
		{"Authorization: Bearer " + opaque, "Authorization: Bearer " + Redacted},
		{"authorization: BEARER\t" + testJWT, "authorization: BEARER\t" + Redacted},
		{"Bearer abc123", "Bearer " + Redacted},
		{"Bearer abc+/=", "Bearer " + Redacted},
		{"bearer token", "bearer token"},
		{"Bearer [REDACTED]", "Bearer [REDACTED]"},
		{"unbearer " + opaque, "unbearer " + opaque},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Basic " + Redacted},
		{"basic validation", "basic validation"},
		{"Basic dGVzdA==", "Basic dGVzdA=="}, // "test": no colon, not a credential
		{"password=hunter2", "password=" + Redacted},
		{"Password=hunter2&x=1", "Password=" + Redacted + "&x=1"},
		{"user[password]=x y", "user[password]=" + Redacted + " y"},
		{"a=1; refresh_token=" + opaque + "; Path=/", "a=1; refresh_token=" + Redacted + "; Path=/"},
		{"token_count=3", "token_count=3"},
		{"password=", "password="},
		{"password=[REDACTED]", "password=[REDACTED]"},
		{"x=password", "x=password"},
		{`{"password":"a\"b","user":"bob"}`, `{"password":"[REDACTED]","user":"bob"}`},
		{`{"secret": 12345, "n": 1}`, `{"secret": [REDACTED], "n": 1}`},
		{`{"token":"` + testJWT + `"}`, `{"token":"[REDACTED]"}`},
		{`{"note":"password=abc"}`, `{"note":"password=[REDACTED]"}`},
		{`"password" is required`, `"password" is required`},
		{`{"password":"unterminated`, `{"password":"[REDACTED]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Scrub(tt.in)
			if got != tt.want {
				t.Errorf("Scrub(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Scrub(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestScrubLinear(t *testing.T) {
	// Inputs built to make a naive scanner quadratic finish at once.
	for name, s := range map[string]string{
		"eyJ":     strings.Repeat("eyJ", 1<<16),
		"quotes":  strings.Repeat(`"a":`, 1<<16),
		"equals":  strings.Repeat("a=", 1<<16),
		"bearers": strings.Repeat("bearer ", 1<<16),
		"fak":     strings.Repeat("fak_", 1<<16),
		"key run": strings.Repeat("k", 1<<17) + "=v",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			Scrub(s)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestScrubNoAllocWhenClean(t *testing.T) {
	s := "GET /items/42?limit=10&offset=20 from 192.0.2.1 user=alice status=200"
	if n := testing.AllocsPerRun(100, func() { Scrub(s) }); n != 0 {
		t.Errorf("%v allocations for a clean string", n)
	}
}

func benchLog(l *slog.Logger) {
	l.Info("request", "method", "GET", "path", "/items/42", "status", 200,
		"dur", 1500*time.Microsecond, "ip", "192.0.2.1", "user", "alice", "request_id", "01J9ZQ3")
}

func benchLogSensitive(l *slog.Logger) {
	l.Info("login", "method", "POST", "path", "/token", "status", 200,
		"authorization", "Bearer "+testJWT, "ip", "192.0.2.1", "user", "alice", "request_id", "01J9ZQ3")
}

func BenchmarkHandler(b *testing.B) {
	cases := []struct {
		name string
		log  func(*slog.Logger)
	}{{"clean", benchLog}, {"sensitive", benchLogSensitive}}
	for _, c := range cases {
		b.Run("json/"+c.name, func(b *testing.B) {
			l := slog.New(slog.NewJSONHandler(io.Discard, nil))
			b.ReportAllocs()
			for b.Loop() {
				c.log(l)
			}
		})
		b.Run("redacting/"+c.name, func(b *testing.B) {
			l := slog.New(NewRedactingHandler(slog.NewJSONHandler(io.Discard, nil)))
			b.ReportAllocs()
			for b.Loop() {
				c.log(l)
			}
		})
	}
}

func BenchmarkScrub(b *testing.B) {
	for name, s := range map[string]string{
		"clean 100B": "GET /items/42?limit=10&offset=20 from 192.0.2.1 user=alice status=200 dur=1.5ms request_id=01J9",
		"jwt":        "Authorization: Bearer " + testJWT,
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				Scrub(s)
			}
		})
	}
}
