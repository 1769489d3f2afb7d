package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fortapi/fortapi/internal/problem"
)

// Header field names written by WriteHeaders.
const (
	HeaderPolicy    = "RateLimit-Policy"    // draft-ietf-httpapi-ratelimit-headers-09 §3
	HeaderRateLimit = "RateLimit"           // draft-ietf-httpapi-ratelimit-headers-09 §4
	HeaderLimit     = "RateLimit-Limit"     // common pre-standard field
	HeaderRemaining = "RateLimit-Remaining" // common pre-standard field
	HeaderReset     = "RateLimit-Reset"     // common pre-standard field
)

// Middleware limits every request that the limiter's Key function keys:
// allowed requests get the RateLimit headers and go on to next; others get
// 429 (or 503 when the store fails under FailClosed) as problem+json.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// Admit is the middleware's work for code that wraps handlers its own way:
// it keys r, checks, writes the RateLimit headers, and reports whether the
// request may proceed. When it returns false it has written the whole
// response (429 or 503).
func (l *Limiter) Admit(w http.ResponseWriter, r *http.Request) bool {
	key, ok := l.key(r)
	if !ok {
		return true
	}
	return l.AdmitKey(w, r, key)
}

// AdmitKey is Admit for a key the caller computed (a framework that keys
// by something the Limiter's KeyFunc cannot see, such as the
// authenticated user). The header values that do not change between
// requests are the Limiter's, computed once.
func (l *Limiter) AdmitKey(w http.ResponseWriter, r *http.Request, key string) bool {
	var buf keyBuf
	return l.admitStored(w, r, l.keyOf(&buf, "", key))
}

// AdmitIP is AdmitKey(w, r, IPKey(a)), without building the key as a
// string.
func (l *Limiter) AdmitIP(w http.ResponseWriter, r *http.Request, a netip.Addr) bool {
	var buf keyBuf
	return l.admitStored(w, r, l.ipKey(&buf, a))
}

// AdmitUser is AdmitKey(w, r, "user:"+user), the key ByUser gives.
func (l *Limiter) AdmitUser(w http.ResponseWriter, r *http.Request, user string) bool {
	var buf keyBuf
	return l.admitStored(w, r, l.keyOf(&buf, "user:", user))
}

// admitStored is AdmitKey for the key as the store sees it (the
// Limiter's prefix included).
func (l *Limiter) admitStored(w http.ResponseWriter, r *http.Request, key []byte) bool {
	res, err := l.takeStored(r.Context(), key, 1)
	if err != nil {
		WriteUnavailable(w, r, res)
		return false
	}
	policy := l.policy
	if res.Local {
		policy = l.localPolicy
	}
	limit := l.limit
	if res.Local {
		limit = ""
	}
	writeHeaders(w.Header(), res, l.quoted, policy, limit)
	if !res.Allowed {
		WriteTooManyRequests(w, r, res)
		return false
	}
	return true
}

// Canonical forms of the header names (http.Header keys), used to write
// without canonicalizing (and allocating) on every response. HTTP/1.1
// sends them in this spelling; field names are case-insensitive.
const (
	keyPolicy    = "Ratelimit-Policy"
	keyRateLimit = "Ratelimit"
	keyLimit     = "Ratelimit-Limit"
	keyRemaining = "Ratelimit-Remaining"
	keyReset     = "Ratelimit-Reset"
)

// WriteHeaders adds the rate-limit fields describing res to w's header,
// following draft-ietf-httpapi-ratelimit-headers-09:
//
//	RateLimit-Policy: "NAME";q=COUNT;w=PERIOD_SECONDS
//	RateLimit: "NAME";r=REMAINING;t=RESET_SECONDS
//
// (a "fortapi-burst" parameter is added to the policy when the burst
// differs from the count), and sets the common pre-standard
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset. t is the time
// until the key is back to its full burst, or, on a denial, the same
// instant as Retry-After (draft §6). Several limiters may write to one
// response: the structured fields then list every policy (added, never
// replaced), while the three single-valued fields describe the most
// restrictive one (the lowest remaining).
func WriteHeaders(w http.ResponseWriter, res Result) {
	name := sfString(res.Policy)
	writeHeaders(w.Header(), res, name, policyValue(name, res), "")
}

// policyValue is the RateLimit-Policy item for res, name already quoted.
func policyValue(name string, res Result) string {
	b := make([]byte, 0, len(name)+48)
	b = append(b, name...)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(res.Limit), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(1, ceilSeconds(res.Window)), 10)
	if res.Burst != 0 && res.Burst != res.Limit {
		b = append(b, ";fortapi-burst="...)
		b = strconv.AppendInt(b, int64(res.Burst), 10)
	}
	return string(b)
}

// writeHeaders is WriteHeaders with the quoted name, the policy item and
// the limit ("": format res.Limit) given: a Limiter computes them once.
func writeHeaders(h http.Header, res Result, name, policy, limit string) {
	remaining, resetSecs := fieldNumbers(res)

	// The RateLimit item, name;r=REMAINING;t=RESET, is one string; the
	// single-valued fields' numbers are substrings of it.
	var buf [96]byte
	b, r0, r1, t0 := appendItem(buf[:0], name, remaining, resetSecs)
	item := string(b)

	var vals []string
	if len(h[keyPolicy]) == 0 && len(h[keyRateLimit]) == 0 {
		// The first limiter of the response: one backing array for every
		// value slice, with room for a second limiter's policy and item
		// to be appended without copying.
		vals = make([]string, 7)
		vals[0], vals[2] = policy, item
		h[keyPolicy], h[keyRateLimit] = vals[0:1:2], vals[2:3:4]
		vals = vals[4:]
	} else {
		addValue(h, keyPolicy, policy)
		addValue(h, keyRateLimit, item)
	}

	if cur := h[keyRemaining]; len(cur) > 0 {
		if n, err := strconv.Atoi(cur[0]); err == nil && n <= remaining {
			return
		}
	}
	if limit == "" {
		limit = strconv.Itoa(res.Limit)
	}
	if vals == nil {
		vals = make([]string, 3)
	}
	vals[0], vals[1], vals[2] = limit, item[r0:r1], item[t0:]
	h[keyLimit], h[keyRemaining], h[keyReset] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
}

// appendItem appends the RateLimit item name;r=REMAINING;t=RESET to b and
// returns where the remaining number starts and ends and where the reset
// number starts (it ends at the end of b).
func appendItem(b []byte, name string, remaining int, resetSecs int64) (_ []byte, r0, r1, t0 int) {
	b = append(b, name...)
	b = append(b, ";r="...)
	r0 = len(b)
	b = strconv.AppendInt(b, int64(remaining), 10)
	r1 = len(b)
	b = append(b, ";t="...)
	t0 = len(b)
	return strconv.AppendInt(b, resetSecs, 10), r0, r1, t0
}

// addValue appends v to the values of key (a slice of length and
// capacity 1 when there were none).
func addValue(h http.Header, key, v string) {
	if cur := h[key]; len(cur) > 0 {
		h[key] = append(cur, v)
		return
	}
	h[key] = []string{v}
}

// WriteTooManyRequests answers 429 with Retry-After (whole seconds,
// rounded up, at least 1) and an RFC 9457 problem document.
func WriteTooManyRequests(w http.ResponseWriter, r *http.Request, res Result) {
	secs := max(1, ceilSeconds(res.RetryAfter))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeProblem(w, r, http.StatusTooManyRequests,
		fmt.Sprintf("Rate limit %q exceeded; retry in %d second(s).", policyName(res.Policy), secs))
}

// WriteUnavailable answers 503 with Retry-After (res.RetryAfter in whole
// seconds, rounded up, at least 1) and an RFC 9457 problem document: for
// Check errors, when the store failed under FailClosed.
func WriteUnavailable(w http.ResponseWriter, r *http.Request, res Result) {
	secs := max(1, ceilSeconds(res.RetryAfter))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeProblem(w, r, http.StatusServiceUnavailable, "Rate limiting is temporarily unavailable; try again later.")
}

// writeProblem is the one problem writer every fortapi answer goes
// through (internal/problem): the members, names and order of huma's
// error model (title, status, detail, instance naming the request id),
// nothing more, so a 429 looks like any other problem.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	problem.Write(w, r, status, detail)
}

// ceilSeconds rounds d up to whole seconds; negative durations give 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func policyName(s string) string {
	if s == "" {
		return DefaultPolicyName
	}
	return s
}

// sfString writes name as a Structured Field String (RFC 8941 §3.3.3):
// quoted, with '"' and '\' escaped; characters outside printable ASCII
// are dropped.
func sfString(name string) string {
	name = policyName(name)
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
