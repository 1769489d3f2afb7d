package apikey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestNewEncodeParse(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^fak_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}$`)
	seen := map[string]bool{}
	for range 50 {
		k, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		s := k.Encode()
		if len(s) != Len || !re.MatchString(s) {
			t.Fatalf("key %q does not have the documented format", s)
		}
		if seen[k.ID] {
			t.Fatalf("id %s twice", k.ID)
		}
		seen[k.ID] = true
		got, err := Parse(s)
		if err != nil || got != k {
			t.Fatalf("Parse(%q) = %v, %v", s, got, err)
		}
		if strings.Contains(k.String(), k.Secret) || strings.Contains(k.LogValue().String(), k.Secret) {
			t.Fatal("String shows the secret")
		}
	}
}

// TestTypoCaught changes every character of a key to every other key
// character, and swaps neighbours: Parse refuses each (checksum or
// format), reading nothing but the string.
func TestTypoCaught(t *testing.T) {
	t.Parallel()
	k, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := k.Encode()
	for i := len(Prefix); i < len(s); i++ {
		if s[i] == '_' {
			continue
		}
		for j := 0; j < len(alphabet); j++ {
			if alphabet[j] == s[i] {
				continue
			}
			typo := s[:i] + string(alphabet[j]) + s[i+1:]
			if _, err := Parse(typo); !errors.Is(err, ErrChecksum) {
				t.Fatalf("typo at %d (%c): %v", i, alphabet[j], err)
			}
		}
		if i+1 < len(s) && s[i] != s[i+1] && s[i+1] != '_' {
			swapped := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
			if _, err := Parse(swapped); err == nil {
				t.Fatalf("transposition at %d accepted", i)
			}
		}
	}
	for _, bad := range []string{"", s[:Len-1], s + "A", "fak-" + s[4:], "FAK_" + s[4:], strings.Replace(s, "_", "-", 2),
		s[:10] + "!" + s[11:], s[:20] + "A" + s[21:]} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestHasher(t *testing.T) {
	t.Parallel()
	if _, err := NewHasher(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte hash key was accepted")
	}
	h, err := NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := NewHasher(bytes.Repeat([]byte{8}, 32))
	k, _ := New(nil)
	sum := h.Hash(k)
	if len(sum) != 32 || bytes.Contains(sum, []byte(k.Secret)) {
		t.Fatalf("hash %x", sum)
	}
	if !h.Verify(k, sum) {
		t.Fatal("Verify refuses the key's own hash")
	}
	other := k
	other.Secret = strings.Repeat("A", SecretLen)
	for name, ok := range map[string]bool{
		"other secret":   h.Verify(other, sum),
		"other hash key": h2.Verify(k, sum),
		"truncated":      h.Verify(k, sum[:31]),
		"empty":          h.Verify(k, nil),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestAllowlist(t *testing.T) {
	t.Parallel()
	l, err := ParseAllowlist([]string{"203.0.113.7/24", "2001:db8::/32", "198.51.100.9", "::ffff:192.0.2.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Strings(), ","); got != "203.0.113.0/24,2001:db8::/32,198.51.100.9/32,192.0.2.0/24" {
		t.Fatalf("parsed as %s", got)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"203.0.113.200", true}, {"::ffff:203.0.113.1", true}, {"203.0.114.1", false},
		{"2001:db8:1::1", true}, {"2001:db9::1", false}, {"198.51.100.9", true}, {"198.51.100.10", false},
		{"192.0.2.55", true}, {"127.0.0.1", false},
	} {
		if got := l.Allows(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Allows(%s) = %v", tc.addr, got)
		}
	}
	if l.Allows(netip.Addr{}) {
		t.Error("an invalid address is allowed")
	}
	if !(Allowlist{}).Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an empty list refuses")
	}
	for _, bad := range []string{"", "10.0.0.0/33", "example.com", "fe80::1%eth0", "10.0.0.0/8 "} {
		if _, err := ParseAllowlist([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFromRequest(t *testing.T) {
	t.Parallel()
	k, _ := New(nil)
	key := k.Encode()
	for _, tc := range []struct {
		name    string
		headers [][2]string
		want    string
		err     error
	}{
		{"none", nil, "", ErrNoKey},
		{"bearer key", [][2]string{{"Authorization", "Bearer " + key}}, key, nil},
		{"bearer lower case", [][2]string{{"Authorization", "bearer " + key}}, key, nil},
		{"bearer jwt", [][2]string{{"Authorization", "Bearer eyJhbGciOi.x.y"}}, "", ErrNoKey},
		{"basic", [][2]string{{"Authorization", "Basic " + key}}, "", ErrNoKey},
		{"x-api-key", [][2]string{{"X-API-Key", key}}, key, nil},
		{"two x-api-key", [][2]string{{"X-API-Key", key}, {"X-API-Key", key}}, "", ErrAmbiguous},
		{"both", [][2]string{{"X-API-Key", key}, {"Authorization", "Bearer eyJ.a.b"}}, "", ErrAmbiguous},
		{"two authorization", [][2]string{{"Authorization", "Bearer " + key}, {"Authorization", "Bearer " + key}}, "", ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			got, err := FromRequest(r)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestRefuseInURL(t *testing.T) {
	t.Parallel()
	k, _ := New(nil)
	key := k.Encode()
	h := RefuseInURL(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/items/", 204},
		{"/items/?limit=5", 204},
		{"/users/me/api-keys/" + k.ID, 204},
		{"/items/?api_key=" + key, 400},
		{"/items/?x=" + url.QueryEscape(key), 400},
		{"/items/?x=fak%5F" + key[4:], 400},
		{"/items/" + key, 400},
		{"/items/fak%5f" + key[4:], 400},
		{"/items/?x=fak_short", 204},
		// A bad escape elsewhere in the query made the decoded check
		// fail, so a key with one character escaped passed.
		{"/items/?y=%zz&x=fak_%" + strings.ToUpper(hex.EncodeToString([]byte{key[4]})) + key[5:], 400},
		{"/items/?x=fak%5F" + key[4:] + "&y=%", 400},
		{"/items/?y=%zz&x=fak_short", 204},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.target, rec.Code, tc.want)
		}
		if rec.Code == 400 && (rec.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(rec.Body.String(), key)) {
			t.Errorf("%s: refusal %q %s", tc.target, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}
