package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const plain = "hunter2-correct-horse-battery"

// leaks reports which encodings of the plain secret appear in out.
func leaks(out string) []string {
	var found []string
	for name, form := range map[string]string{
		"plain":  plain,
		"hex":    hex.EncodeToString([]byte(plain)),
		"HEX":    strings.ToUpper(hex.EncodeToString([]byte(plain))),
		"base64": base64.StdEncoding.EncodeToString([]byte(plain)),
		"bytes":  fmt.Sprint([]byte(plain)),
		"prefix": plain[:8],
	} {
		if strings.Contains(out, form) {
			found = append(found, name)
		}
	}
	return found
}

type exported struct {
	Name string
	Key  Secret
	Ptr  *Secret
}

type unexported struct {
	name string
	key  Secret
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewString(plain)
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%10s", "%-10v", "%p", "%t", "%U", "%c", "%o", "%e", "%08b"}
	values := map[string]any{
		"value":      s,
		"pointer":    &s,
		"exported":   exported{Name: "n", Key: s, Ptr: &s},
		"&exported":  &exported{Name: "n", Key: s, Ptr: &s},
		"unexported": unexported{name: "n", key: s},
		"slice":      []Secret{s, s},
		"map":        map[string]Secret{"k": s},
		"any slice":  []any{s},
		"error":      fmt.Errorf("wrapped: %v", s),
	}
	for vname, v := range values {
		for _, verb := range verbs {
			t.Run(vname+" "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, v)
				if l := leaks(out); l != nil {
					t.Fatalf("%s leaks %v: %s", verb, l, out)
				}
			})
		}
	}
	for _, tc := range []struct {
		name, got string
	}{
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"Sprint", fmt.Sprint(s)},
		{"Sprintln", strings.TrimSpace(fmt.Sprintln(s))},
		{"%v", fmt.Sprintf("%v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"pointer %v", fmt.Sprintf("%v", &s)},
		{"error", errors.New(fmt.Sprint("k=", s)).Error()[2:]},
	} {
		t.Run("exact "+tc.name, func(t *testing.T) {
			if tc.got != Redacted {
				t.Errorf("got %q, want %q", tc.got, Redacted)
			}
		})
	}
}

func TestSecretEncoders(t *testing.T) {
	s := NewString(plain)
	tests := []struct {
		name   string
		encode func() (string, error)
		want   string
	}{
		{"json value", func() (string, error) { b, err := json.Marshal(s); return string(b), err }, `"[REDACTED]"`},
		{"json struct", func() (string, error) {
			b, err := json.Marshal(exported{Name: "n", Key: s, Ptr: &s})
			return string(b), err
		}, `{"Name":"n","Key":"[REDACTED]","Ptr":"[REDACTED]"}`},
		{"json unexported field", func() (string, error) {
			b, err := json.Marshal(struct {
				Name string
				key  Secret
			}{"n", s})
			return string(b), err
		}, `{"Name":"n"}`},
		{"json map", func() (string, error) { b, err := json.Marshal(map[string]Secret{"k": s}); return string(b), err }, `{"k":"[REDACTED]"}`},
		{"text", func() (string, error) { b, err := s.MarshalText(); return string(b), err }, Redacted},
		{"xml", func() (string, error) {
			b, err := xml.Marshal(struct {
				XMLName xml.Name `xml:"c"`
				Key     Secret   `xml:"key"`
			}{Key: s})
			return string(b), err
		}, `<c><key>[REDACTED]</key></c>`},
		{"slog json", func() (string, error) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("m", "key", s, "cfg", exported{Key: s})
			return strings.TrimSpace(buf.String()), nil
		}, `{"level":"INFO","msg":"m","key":"[REDACTED]","cfg":{"Name":"","Key":"[REDACTED]","Ptr":null}}`},
		{"slog text", func() (string, error) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("m", "key", s, "cfg", exported{Key: s}, "u", unexported{"n", s})
			return strings.TrimSpace(buf.String()), nil
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.encode()
			if err != nil {
				t.Fatal(err)
			}
			if l := leaks(got); l != nil {
				t.Fatalf("leaks %v: %s", l, got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !strings.Contains(got, Redacted) && tt.name != "json unexported field" {
				t.Errorf("no %s in %s", Redacted, got)
			}
		})
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestSecretAccessors(t *testing.T) {
	in := []byte(plain)
	s := New(in)
	in[0] = 'X'
	if s.RevealString() != plain {
		t.Error("New did not copy its input")
	}
	r := s.Reveal()
	r[0] = 'Y'
	if s.RevealString() != plain {
		t.Error("Reveal returned the Secret's own bytes")
	}
	if s.Len() != len(plain) || s.IsZero() {
		t.Errorf("Len %d IsZero %v", s.Len(), s.IsZero())
	}
	var zero Secret
	if !zero.IsZero() || zero.Len() != 0 || zero.Reveal() != nil || zero.RevealString() != "" || zero.String() != Redacted {
		t.Error("zero Secret misbehaves")
	}
	if !New(nil).IsZero() || !NewString("").IsZero() {
		t.Error("empty input is not a zero Secret")
	}
	for _, tc := range []struct {
		a, b Secret
		want bool
	}{
		{s, NewString(plain), true},
		{s, NewString(plain + "x"), false},
		{s, NewString("Hunter2-correct-horse-battery"), false},
		{zero, Secret{}, true},
		{zero, s, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("Equal(%d bytes, %d bytes) = %v", tc.a.Len(), tc.b.Len(), got)
		}
	}
}
