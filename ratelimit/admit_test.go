package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// AdmitIP and AdmitUser build the key in one allocation; they must take
// from the very allowance AdmitKey(IPKey(a)) and AdmitKey("user:"+u) take
// from (and the Admit of a ByClientIP limiter), or a client could get one
// allowance per entry point.
func TestAdmitIPAndUserShareAdmitKeysAllowance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(l *Limiter) bool
		then  func(l *Limiter) bool
	}{
		{"AdmitIP then AdmitKey(IPKey)", func(l *Limiter) bool {
			return l.AdmitIP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), netip.MustParseAddr("192.0.2.7"))
		}, func(l *Limiter) bool {
			return l.AdmitKey(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), IPKey(netip.MustParseAddr("192.0.2.7")))
		}},
		{"AdmitIP of an IPv6 /64 neighbour", func(l *Limiter) bool {
			return l.AdmitIP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), netip.MustParseAddr("2001:db8::1"))
		}, func(l *Limiter) bool {
			return l.AdmitIP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), netip.MustParseAddr("2001:db8::ffff"))
		}},
		{"AdmitUser then AdmitKey(user:)", func(l *Limiter) bool {
			return l.AdmitUser(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "alice")
		}, func(l *Limiter) bool {
			return l.AdmitKey(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "user:alice")
		}},
		{"AdmitIP then Admit of a ByClientIP limiter", func(l *Limiter) bool {
			return l.AdmitIP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), netip.MustParseAddr("192.0.2.1"))
		}, func(l *Limiter) bool {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			return l.Admit(httptest.NewRecorder(), r)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := mustSet(t, SetOptions{})
			l := mustLimiter(t, Options{Name: "one", Spec: MustParseSpec("1/hour"), Set: set,
				Key: ByClientIP(func(r *http.Request) netip.Addr { return netip.MustParseAddrPort(r.RemoteAddr).Addr() })})
			if !tc.first(l) {
				t.Fatal("the first request was refused")
			}
			if tc.then(l) {
				t.Fatal("the second entry point got an allowance of its own")
			}
		})
	}
}
