package httpapi

import (
	"strings"
	"testing"
)

// TestSafeNextRefusesOpenRedirects: every value that could send the
// browser to another origin, or that the function does not fully
// understand, gives "" (the login's default page).
func TestSafeNextRefusesOpenRedirects(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"",
		"//evil.com",
		"//evil.com/login",
		"///evil.com",
		"/\\evil.com",
		"\\\\evil.com",
		"\\/evil.com",
		"https://evil.com",
		"http:evil.com",
		"https:/evil.com",
		"HTTPS://evil.com/",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"evil.com",
		"%2F%2Fevil.com",
		"/%2F/evil.com",
		"/%2f%2fevil.com",
		"/%5Cevil.com",
		"/%5c%5cevil.com",
		"/%09/evil.com",
		"/%0a/evil.com",
		"/%00",
		"/\t/evil.com",
		"/\n/evil.com",
		"\t//evil.com",
		"\r\n//evil.com",
		" /items",
		"/items\x00",
		"/items\x7f",
		"／／evil.com",      // fullwidth solidus
		"/／evil.com",      // one of them
		"/\u2215evil.com", // division slash
		"/\u2044evil.com", // fraction slash
		"/\uff3cevil.com", // fullwidth reverse solidus
		"/items/\u200b",   // zero-width space
		"/items#@evil.com",
		"/items?x=\"><script>alert(1)</script>",
		"/items/<script>",
		"/items/'\"",
		"/login",
		"/login?next=//evil.com",
		"/./login",
		"/items/../login/",
		"/%6Cogin",
		"/" + strings.Repeat("a", maxNextBytes),
		"/" + strings.Repeat("%2F", 400) + "evil.com",
		"/%zz",
		"/a b",
		"/a\\b",
	} {
		if got := safeNext(raw); got != "" {
			t.Errorf("safeNext(%q) = %q, want \"\"", raw, got)
		}
	}
}

// TestSafeNextKeepsLocalPaths: same-origin paths pass, normalized.
func TestSafeNextKeepsLocalPaths(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, want string }{
		{"/", "/"},
		{"/items/01a221f9-4e41-749c-b6ef-e3048ba0750f/view", "/items/01a221f9-4e41-749c-b6ef-e3048ba0750f/view"},
		{"/items/", "/items/"},
		{"/items/?limit=20&cursor=abc", "/items/?limit=20&cursor=abc"},
		{"/items/./x/../y", "/items/y"},
		{"/a//b", "/a/b"},
		{"/.//evil.com", "/evil.com"},    // dot segments removed: a path on this server
		{"/../../evil.com", "/evil.com"}, // no climbing above the root
		{"/%7Eme", "/~me"},
		{"/docs", "/docs"},
		{"/loginx", "/loginx"},
	} {
		if got := safeNext(tt.raw); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		// What safeNext returns, it accepts again unchanged.
		if got := safeNext(tt.want); got != tt.want {
			t.Errorf("safeNext(%q) = %q: not stable", tt.want, got)
		}
	}
}

// FuzzSafeNext: whatever the input, the result is "" or a path that
// starts with one "/" followed by something other than "/" or "\", and
// holds only the bytes safeNext allows.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/items/x/view", "//evil.com", "/\\evil.com", "/%2F/evil", "/./../x", "/a?b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := safeNext(raw)
		if got == "" {
			return
		}
		if got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("safeNext(%q) = %q", raw, got)
		}
		for i := 0; i < len(got); i++ {
			if !nextByte(got[i]) {
				t.Fatalf("safeNext(%q) = %q holds %q", raw, got, got[i])
			}
		}
		if safeNext(got) != got {
			t.Fatalf("safeNext(%q) = %q, not stable", raw, got)
		}
	})
}
