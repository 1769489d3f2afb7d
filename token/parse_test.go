package token

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseObject(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		want []member
	}{
		{`{}`, true, nil},
		{` { } `, true, nil},
		{`{"a":"b"}`, true, []member{{name: "a", str: "b"}}},
		{`{"a":0,"b":253402300799}`, true, []member{{name: "a", isNum: true}, {name: "b", num: 253402300799, isNum: true}}},
		{"{\"a\" :\t\"\\u00e9\\n\\\"\" ,\r\n\"b\":\"\"}", true, []member{{name: "a", str: "é\n\""}, {name: "b"}}},
		{`{"a":"b","a":"c"}`, true, []member{{name: "a", str: "b"}, {name: "a", str: "c"}}}, // duplicates are the caller's to refuse
		{``, false, nil},
		{`{`, false, nil},
		{`}`, false, nil},
		{`{"a"}`, false, nil},
		{`{"a":}`, false, nil},
		{`{"a":"b",}`, false, nil},
		{`{,"a":"b"}`, false, nil},
		{`{"a":"b"}x`, false, nil},
		{`{"a":"b"}{}`, false, nil},
		{`{"a":"b" "c":"d"}`, false, nil},
		{`{a:"b"}`, false, nil},
		{`{'a':'b'}`, false, nil},
		{`{"a":true}`, false, nil},
		{`{"a":null}`, false, nil},
		{`{"a":[]}`, false, nil},
		{`{"a":{}}`, false, nil},
		{`{"a":-1}`, false, nil},
		{`{"a":1.0}`, false, nil},
		{`{"a":1e3}`, false, nil},
		{`{"a":01}`, false, nil},
		{`{"a":253402300800}`, false, nil},
		{`{"a":9999999999999999999999}`, false, nil},
		{`{"a":"b\"}`, false, nil},
		{`{"a":"\x"}`, false, nil},
		{`{"a":"\u12"}`, false, nil},
		{`{"a":"\u12G4"}`, false, nil},
		{"{\"a\":\"b\x01\"}", false, nil},
		{"{\"a\":\"\xff\"}", false, nil},
		{"{\"\xc3\":\"b\"}", false, nil},
		{`{"\u0061":"b"}`, false, nil},
		{`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9}`, true, nil},
		{`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10}`, false, nil},
	} {
		t.Run(c.in, func(t *testing.T) {
			var out [maxMembers]member
			n, ok := parseObject(c.in, &out)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok && c.want != nil {
				if n != len(c.want) {
					t.Fatalf("n = %d, want %d", n, len(c.want))
				}
				for i := range c.want {
					if out[i] != c.want[i] {
						t.Errorf("member %d = %+v, want %+v", i, out[i], c.want[i])
					}
				}
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"a", []string{"a"}, true},
		{"items:read items:write", []string{"items:read", "items:write"}, true},
		{" a", nil, false},
		{"a ", nil, false},
		{"a  b", nil, false},
		{"a\tb", nil, false},
		{"a a", nil, false},
		{"a\"", nil, false},
		{`a\`, nil, false},
		{"é", nil, false},
	} {
		got, ok := parseScope(c.in)
		if ok != c.ok || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("parseScope(%q) = %q, %v", c.in, got, ok)
		}
	}
}

// FuzzParseObject checks parseObject against encoding/json: whatever the
// strict scanner accepts, encoding/json reads the same way.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":1,"b":"\u00e9"}`, `{"a":"b","a":"c"}`, `{"a":[1]}`, "{\"a\":\"\xff\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var out [maxMembers]member
		n, ok := parseObject(s, &out)
		if !ok {
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("parseObject accepted %q, encoding/json refuses: %v", s, err)
		}
		last := map[string]member{}
		for _, mem := range out[:n] {
			last[mem.name] = mem // encoding/json keeps the last
		}
		if len(last) != len(m) {
			t.Fatalf("%q: %d distinct members, encoding/json %d", s, len(last), len(m))
		}
		for name, mem := range last {
			switch v := m[name].(type) {
			case string:
				if mem.isNum || mem.str != v {
					t.Fatalf("%q: member %q = %+v, encoding/json %q", s, name, mem, v)
				}
			case float64:
				if !mem.isNum || float64(mem.num) != v {
					t.Fatalf("%q: member %q = %+v, encoding/json %v", s, name, mem, v)
				}
			default:
				t.Fatalf("%q: member %q is %T to encoding/json", s, name, v)
			}
		}
	})
}

// FuzzVerify: Verify never panics, always answers ErrInvalidToken on
// failure, and accepts only the tokens actually issued.
func FuzzVerify(f *testing.F) {
	e := newEnv(f, func(o *Options) { o.CacheSize = 64 })
	valid := map[string]bool{}
	for _, kid := range []string{"ed1", "es1", "hs1"} {
		tok, _ := e.issue(f, kid, "alice", "s1", "items:read")
		valid[tok] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1])
		f.Add(tok + "." + parts[2])
	}
	now := e.clock.Now()
	f.Add(unsigned(obj(header("none", "ed1")), obj(claimsAt(now)), ""))
	f.Add(unsigned(obj(header("HS256", "ed1")), obj(claimsAt(now)), "c2ln"))
	f.Add(signRaw(f, e.keys, "hs1", `{"alg":"HS256","typ":"at+jwt","kid":"hs1","jwk":{}}`, obj(claimsAt(now))))
	f.Add(strings.Repeat(".", 9000))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		e.clock.Set(now)
		c, err := e.svc.Verify(context.Background(), tok)
		if err != nil {
			if c != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%q) = %v, %v", tok, c, err)
			}
			return
		}
		if !valid[tok] {
			t.Fatalf("Verify accepted a token that was never issued: %q", tok)
		}
		if c.Subject != "alice" || c.ExpiresAt.Sub(c.IssuedAt) != 15*time.Minute {
			t.Fatalf("claims %+v", c)
		}
	})
}
