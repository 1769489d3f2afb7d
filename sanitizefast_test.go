package fortapi

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

// prepare's common case (decodeFloat: json.Unmarshal into an any) decides
// exactly as the exact-number path (prepareExact) on every body: the same
// bytes served, the same error, and an offer that huma's take turns into
// the same decoding. The bodies include ones decodeFloat refuses (HTML,
// escapes, numbers out of range, not JSON, trailing data), which then take
// the exact path.
func TestSanitizePrepareFastEqualsExact(t *testing.T) {
	type rich struct {
		Name string `json:"name" sanitize:"strip"`
		Body string `json:"body" sanitize:"rich"`
		N    int64  `json:"n"`
	}
	typ := reflect.TypeFor[rich]()
	san := sanitize.New()
	api := New(Options{})
	run := func(body string, exact bool) *sanitizingBody {
		src := io.NopCloser(strings.NewReader(body))
		b := &sanitizingBody{src: src, typ: typ, san: san, limit: io.LimitedReader{R: src, N: 1 << 20}, api: api}
		if exact {
			b.ready = true
			data, _ := io.ReadAll(&b.limit)
			b.out.Reset(data)
			b.prepareExact(data)
		} else {
			b.prepare()
		}
		return b
	}
	for _, body := range []string{
		`{"name":"plain","body":"text","n":1}`,
		`{"name":"a <b>b</b>","body":"<script>x</script>ok","n":2}`,
		`{"name":"it's","body":"a & b","n":3}`,
		`{"name":"\u003cscript\u003e","body":"\"q\"","n":4}`,
		`{"name":"x","n":9007199254740993}`,
		`{"name":"x","n":1e400}`,
		`{"name":"x","Name":"y"}`,
		`{"name":"x"} {"name":"y"}`,
		`{"name":"x"}   `,
		`{"name":`,
		`[{"name":"x"}]`,
		`"just a string"`,
		`{"NAME":"<i>case</i>"}`,
		strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000),
		// decodeAny's own edges: deeper than its 1000 levels but within
		// encoding/json's 10000, numbers at float64's limits, whitespace
		// everywhere, text beyond ASCII, an empty array.
		`{"name":"x","deep":` + strings.Repeat(`[`, 1001) + strings.Repeat(`]`, 1001) + `}`,
		`{"name":"x","deep":` + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `}`,
		`{"name":"x","n":1e309}`,
		`{"name":"x","n":-0,"f":1e308,"g":4.9e-324,"h":1e-400}`,
		" \t\r\n{ \"name\" : \"x\" ,\n\"body\":\t\"y\" , \"n\" : 1 } \n",
		`{"name":"héllo wörld ✓ 𝄞","body":"","n":0,"a":[],"o":{}}`,
		`{"name":"x","n":01}`,
		`{"name":"x","n":1.}`,
	} {
		name := body
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			fast, exact := run(body, false), run(body, true)
			fastOut, _ := io.ReadAll(&fast.out)
			exactOut, _ := io.ReadAll(&exact.out)
			if !bytes.Equal(fastOut, exactOut) {
				t.Errorf("served %q, exact path %q", fastOut, exactOut)
			}
			if (fast.err == nil) != (exact.err == nil) || (fast.err != nil && fast.err.Error() != exact.err.Error()) {
				t.Errorf("error %v, exact path %v", fast.err, exact.err)
			}
			if (fast.decoded == nil) != (exact.decoded == nil) {
				t.Fatalf("offers a decoding: %v, exact path: %v", fast.decoded != nil, exact.decoded != nil)
			}
			if fast.decoded != nil {
				f, fok := fast.take(fast.sent)
				e, eok := exact.take(exact.sent)
				if fok != eok || !reflect.DeepEqual(f, e) {
					t.Errorf("offer %#v (%v), exact path %#v (%v)", f, fok, e, eok)
				}
			}
		})
	}
}
