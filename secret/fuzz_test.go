package secret

import (
	"regexp"
	"strings"
	"testing"
)

var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.`)

// leftoverCredential finds a "Bearer x" or "Basic x" in s whose x Scrub
// should have redacted, by checking every position (no regexp leftmost
// match can hide one behind another).
func leftoverCredential(s string) string {
	for i := range len(s) {
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		for _, scheme := range []string{"bearer", "basic"} {
			if !hasPrefixFold(s[i:], scheme) {
				continue
			}
			k := i + len(scheme)
			j := k
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j == k {
				continue
			}
			end := runEnd(s, j, isToken68Char)
			for end < len(s) && s[end] == '=' {
				end++
			}
			if end > j && isCredential(scheme == "basic", s[j:end]) {
				return s[i:end]
			}
		}
	}
	return ""
}

// FuzzScrub checks the scrubber on arbitrary text: it never panics, is
// idempotent, leaves no JWT-shaped run and no Bearer/Basic credential,
// and returns clean text unchanged.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"", "plain text", testJWT, "Bearer " + opaque, "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
		"password=hunter2&x=1", `{"password":"a\"b","token": 1}`, "eyJ.eyJ.", "eyJeyJ.x.y",
		"bearer bearer abcdefghijklmnopqrstuvwxyz", "x-Bearer Abc", "a=1; refresh_token=" + opaque,
		"user[password]=x", "eyJa.b.cBearer abc1", `"cookie":"a=b"`, "password=[REDACTED]x",
	} {
		f.Add(s)
	}
	m := defaultKeys
	f.Fuzz(func(t *testing.T, in string) {
		out, changed := m.scrub(in)
		if !changed && out != in {
			t.Fatalf("reported unchanged but changed %q -> %q", in, out)
		}
		if changed && out == in {
			t.Fatalf("reported changed but is the same: %q", in)
		}
		if again, ch := m.scrub(out); ch || again != out {
			t.Fatalf("not idempotent:\n in   %q\n out  %q\n again %q", in, out, again)
		}
		if loc := jwtShape.FindStringIndex(out); loc != nil {
			t.Fatalf("JWT-shaped %q left in %q (from %q)", out[loc[0]:loc[1]], out, in)
		}
		if c := leftoverCredential(out); c != "" {
			t.Fatalf("credential %q left in %q (from %q)", c, out, in)
		}
		if !changed && strings.Contains(out, Redacted) && !strings.Contains(in, Redacted) {
			t.Fatalf("unchanged text grew a %s", Redacted)
		}
	})
}
