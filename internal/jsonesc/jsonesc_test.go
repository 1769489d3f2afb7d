package jsonesc

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// The reference encoders' bytes for s: encoding/json's json.Marshal
// (HTML escaping on) and slog's JSON handler (the message of a record).
func refEncodingJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func refSlog(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info(s)
	out := strings.TrimSuffix(buf.String(), "}\n")
	return strings.TrimPrefix(out, `{"msg":`)
}

var hostile = []string{
	"", "plain", `"quoted" \back\slash`, "line\nbreak\r\ttab", "\b\f\v\x00\x1f\x7f",
	"<script>alert(1)</script>&amp;", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "é日本🙂",
	"}\n{\"level\":\"ERROR\",\"msg\":\"forged\"", strings.Repeat("<&>", 100),
}

func TestAppendStringMatchesTheReferences(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		for _, tc := range []struct {
			name string
			st   Style
			ref  func(*testing.T, string) string
		}{{"encoding/json", EncodingJSON, refEncodingJSON}, {"slog", Slog, refSlog}} {
			t.Run(tc.name, func(t *testing.T) {
				got := string(AppendString([]byte("x"), s, tc.st))
				if want := "x" + tc.ref(t, s); got != want {
					t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
				}
			})
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s, EncodingJSON)), refEncodingJSON(t, s); got != want {
			t.Errorf("EncodingJSON %q: %s, want %s", s, got, want)
		}
		if got, want := string(AppendString(nil, s, Slog)), refSlog(t, s); got != want {
			t.Errorf("Slog %q: %s, want %s", s, got, want)
		}
	})
}

// TestEveryPosition: a byte that needs escaping (or starts a multi-byte
// rune, valid or not) at every position of strings of 1 to 40 plain
// bytes, so that it falls in every byte of the eight-byte words
// AppendString skips and in the tail after them, in both styles.
func TestEveryPosition(t *testing.T) {
	t.Parallel()
	specials := []string{"\"", "\\", "\x00", "\x1f", "\n", "\x7f", " ", "<", ">", "&", "\xff", "é", "\u2028", "\xe2\x80", "~"}
	for n := 1; n <= 40; n++ {
		for p := 0; p < n; p++ {
			for _, c := range specials {
				s := strings.Repeat("a", p) + c + strings.Repeat("Z", n-p-1)
				if got, want := string(AppendString(nil, s, EncodingJSON)), refEncodingJSON(t, s); got != want {
					t.Fatalf("EncodingJSON %q: %s, want %s", s, got, want)
				}
				if got, want := string(AppendString(nil, s, Slog)), refSlog(t, s); got != want {
					t.Fatalf("Slog %q: %s, want %s", s, got, want)
				}
			}
		}
	}
}
