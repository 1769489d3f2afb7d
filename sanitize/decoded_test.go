package sanitize_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

type decodedInner struct {
	Text string `json:"text" sanitize:"rich"`
}

type decodedEmbedded struct {
	Promoted string `json:"promoted" sanitize:"strip"`
}

type decodedInput struct {
	decodedEmbedded
	Rich    string            `json:"rich" sanitize:"rich"`
	Plain   string            `json:"plain" sanitize:"plain"`
	Strip   *string           `json:"strip,omitempty" sanitize:"strip"`
	NoTag   string            `json:"no_tag"`
	Hidden  string            `json:"-" sanitize:"rich"`
	GoName  string            `sanitize:"rich"`
	List    []string          `json:"list" sanitize:"rich"`
	Inner   *decodedInner     `json:"inner"`
	Inners  []decodedInner    `json:"inners"`
	Free    map[string]string `json:"free"`
	Skipped decodedInner      `json:"skipped" sanitize:"-"`
}

// TestDecoded: a decoded JSON body is sanitized as its type declares,
// member names matched as encoding/json matches them (json tags, Go
// names, promoted fields, any letter case), and nothing else is touched.
func TestDecoded(t *testing.T) {
	t.Parallel()
	s := sanitize.New()
	x := `<b>b</b><script>s</script>`
	body := `{"promoted":"` + x + `","rich":"` + x + `","RICH":"` + x + `","plain":"` + x + `","strip":"` + x + `",` +
		`"no_tag":"` + x + `","Hidden":"` + x + `","goname":"` + x + `","list":["` + x + `",1],` +
		`"inner":{"text":"` + x + `"},"inners":[{"Text":"` + x + `"},null],"free":{"rich":"` + x + `"},"skipped":{"text":"` + x + `"}}`
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	v, err := s.Decoded(reflect.TypeFor[decodedInput](), v)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	rich, strip := "<b>b</b>", "b"
	for k, want := range map[string]any{
		"promoted": strip, "rich": rich, "RICH": rich, "plain": x, "strip": strip, "no_tag": x,
		"Hidden": x, "goname": rich,
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
	if l := m["list"].([]any); l[0] != rich || l[1] != float64(1) {
		t.Errorf("list = %v", l)
	}
	if in := m["inner"].(map[string]any); in["text"] != rich {
		t.Errorf("inner = %v", in)
	}
	if ins := m["inners"].([]any); ins[0].(map[string]any)["Text"] != rich || ins[1] != nil {
		t.Errorf("inners = %v", ins)
	}
	if m["free"].(map[string]any)["rich"] != x || m["skipped"].(map[string]any)["text"] != x {
		t.Errorf("untagged map or skipped struct changed: %v %v", m["free"], m["skipped"])
	}
	if d, err := s.Declares(reflect.TypeFor[decodedInput]()); !d || err != nil {
		t.Errorf("Declares = %v, %v", d, err)
	}
	type onlyPlain struct {
		Name string `json:"name" sanitize:"plain"`
	}
	if d, err := s.Declares(reflect.TypeFor[onlyPlain]()); d || err != nil {
		t.Errorf("plain-only type: Declares = %v, %v; want nothing to do", d, err)
	}
	type bad struct {
		N int `json:"n" sanitize:"rich"`
	}
	if _, err := s.Declares(reflect.TypeFor[bad]()); !errors.Is(err, sanitize.ErrBadTag) {
		t.Errorf("tag on an int: %v", err)
	}
	type badPlain struct {
		N []int `json:"n" sanitize:"plain"`
	}
	if _, err := s.Declares(reflect.TypeFor[badPlain]()); !errors.Is(err, sanitize.ErrBadTag) {
		t.Errorf("plain tag on []int: %v", err)
	}
}

// TestDecodedChanged: DecodedChanged reports a change exactly when a
// tagged string, at any depth, comes out different; untagged members,
// plain fields and strings the policy keeps do not count.
func TestDecodedChanged(t *testing.T) {
	t.Parallel()
	s := sanitize.New()
	for _, tc := range []struct {
		name, body string
		changed    bool
	}{
		{"clean strings", `{"rich":"<b>b</b>","strip":"b","list":["ok"],"inner":{"text":"t"}}`, false},
		{"script in an untagged member", `{"no_tag":"<script>s</script>","plain":"<script>s</script>"}`, false},
		{"script under an untagged map", `{"free":{"rich":"<script>s</script>"}}`, false},
		{"rich member", `{"rich":"<script>s</script>"}`, true},
		{"member in another letter case", `{"RiCh":"<script>s</script>"}`, true},
		{"strip member keeps no tag", `{"strip":"<b>b</b>"}`, true},
		{"in a list", `{"list":["ok","<img src=x onerror=alert(1)>"]}`, true},
		{"in a nested object in a list", `{"inners":[{"text":"ok"},{"Text":"<script>s</script>"}]}`, true},
		{"empty object", `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
				t.Fatal(err)
			}
			var plain any
			_ = json.Unmarshal([]byte(tc.body), &plain)
			_, changed, err := s.DecodedChanged(reflect.TypeFor[decodedInput](), v)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if !changed && !reflect.DeepEqual(v, plain) {
				t.Errorf("unchanged, yet the value differs: %v, sent %v", v, plain)
			}
		})
	}
}
