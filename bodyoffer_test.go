package fortapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/danielgtaylor/huma/v2"
)

// offerFor makes a sanitizingBody of api offer the UseNumber decoding of
// body for the buffer buf (which holds a copy of body), as prepare and
// Read would.
func offerFor(t *testing.T, api *API, body string, buf []byte) *sanitizingBody {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b := &sanitizingBody{api: api, decoded: v, sent: []byte(body)}
	b.offer(&buf[0])
	return b
}

// What API.Unmarshal gives huma from an offer is exactly what
// json.Unmarshal gives (numbers as float64, out-of-range numbers the same
// error), only for the very bytes offered, once, and only for
// application/json as huma names it; otherwise huma's own decoding runs.
func TestBodyOfferEqualsUnmarshal(t *testing.T) {
	api := New(Options{Logger: slog.New(slog.DiscardHandler)})
	for _, body := range []string{
		`{"name":"a","price":12.5,"tax":2.5}`,
		`{"n":9007199254740993,"small":1e-400,"neg":-0,"exp":1E+2,"list":[1,2.5,{"x":[3]}],"s":"\u003c","t":true,"z":null}`,
		`[1,"two",3.0,[],{}]`,
		`"just a string"`,
		`42`,
		` {"spaced" : [ 1 , 2 ] } `,
		`{"big":1e400}`, // out of float64's range: json.Unmarshal's error
		`{"deep":[[1e309]]}`,
	} {
		t.Run(body, func(t *testing.T) {
			var want any
			wantErr := json.Unmarshal([]byte(body), &want)

			buf := []byte(body)
			offerFor(t, api, body, buf)
			var got any
			err := api.Unmarshal("application/json", buf, &got)
			if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("error %v, json.Unmarshal's %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %#v, json.Unmarshal %#v", got, want)
			}
			if ob, left := api.offers.load(unsafeKey(buf)); left {
				// An object stays offered, once more, to the decoding
				// into a struct (structfill.go), and to nothing else.
				if _, obj := got.(map[string]any); !obj || ob.stage.Load() != offerObject {
					t.Fatal("the offer is still there after it was taken")
				}
				ob.withdraw()
			}
		})
	}

	t.Run("other bytes in the buffer", func(t *testing.T) {
		buf := []byte(`{"a":"x"}`)
		offerFor(t, api, `{"a":"x"}`, buf)
		copy(buf, `{"a":"y"}`)
		var got any
		if err := api.Unmarshal("application/json", buf, &got); err != nil || got.(map[string]any)["a"] != "y" {
			t.Fatalf("got %v, %v; want the buffer's bytes decoded", got, err)
		}
	})
	t.Run("a shorter body at the same place", func(t *testing.T) {
		buf := []byte(`{"a":"x"}`)
		offerFor(t, api, `{"a":"x"}`, buf)
		var got any
		if err := api.Unmarshal("application/json", buf[:5], &got); err == nil {
			t.Fatalf("a truncated body decoded as %v", got)
		}
	})
	t.Run("taken once", func(t *testing.T) {
		buf := []byte(`{"a":1}`)
		b := offerFor(t, api, `{"a":1}`, buf)
		var first, second any
		_ = api.Unmarshal("application/json", buf, &first)
		// The same request's body, offered again by mistake, is still
		// only taken for equal bytes; its decoding was handed out.
		b.offer(&buf[0])
		if err := api.Unmarshal("application/json", buf, &second); err != nil || !reflect.DeepEqual(first, second) {
			t.Fatalf("second decoding %v, %v; first %v", second, err, first)
		}
		if reflect.ValueOf(first).Pointer() == reflect.ValueOf(second).Pointer() {
			t.Fatal("one decoding handed out twice")
		}
	})
	t.Run("content type spelled otherwise", func(t *testing.T) {
		for _, ct := range []string{"application/json; charset=utf-8", "APPLICATION/JSON", "application/problem+json"} {
			buf := []byte(`{"a":1}`)
			b := offerFor(t, api, `{"a":1}`, buf)
			var got any
			err := api.Unmarshal(ct, buf, &got)
			want := api.API.Unmarshal(ct, []byte(`{"a":1}`), new(any))
			if (err == nil) != (want == nil) {
				t.Errorf("%s: %v, huma's own %v", ct, err, want)
			}
			if b.decoded == nil {
				t.Errorf("%s: the offer was taken", ct)
			}
			b.withdraw()
		}
	})
	t.Run("a struct is decoded by huma", func(t *testing.T) {
		buf := []byte(`{"a":"x","a":"y"}`) // duplicate: the strict check runs
		offerFor(t, api, `{"a":"x"}`, []byte(`{"a":"x"}`))
		var s struct{ A string }
		if err := api.Unmarshal("application/json", buf, &s); err == nil {
			t.Fatal("a duplicate member decoded into a struct")
		}
	})
}

func unsafeKey(b []byte) unsafe.Pointer { return (&sanitizingBody{}).keyOf(b) }

// Through the whole API, a sanitized body is validated and reaches the
// handler as before whether huma takes the offer or not, and no offer
// outlives its request, answered or refused.
func TestBodyOffersDoNotOutliveRequests(t *testing.T) {
	api := New(Options{Logger: slog.New(slog.DiscardHandler)})
	type in struct {
		Body struct {
			Title string  `json:"title" minLength:"1" maxLength:"20" sanitize:"rich"`
			Count float64 `json:"count" minimum:"0"`
		}
	}
	var mu sync.Mutex
	var got []string
	huma.Register(api, huma.Operation{OperationID: "post", Method: http.MethodPost, Path: "/p", Security: Public()},
		func(ctx context.Context, in *in) (*struct{}, error) {
			mu.Lock()
			got = append(got, in.Body.Title)
			mu.Unlock()
			return nil, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"title":"plain","count":1}`, 204},
		{`{"title":"plain","count":-1}`, 422},
		{`{"title":"` + strings.Repeat("x", 30) + `","count":1}`, 422},
		{`{"title":"<b>kept</b>","count":9007199254740993}`, 204},
		{`{"title":"<script>x</script>ok","count":1}`, 204}, // changed: no offer
		{`{"title":"plain","count":1e400}`, 400},            // json.Unmarshal refuses it, as before
		{`{"title":"plain","count":1,"extra":true}`, 422},
		{`{"title":"plain","count":"1"}`, 422},
	} {
		for range 50 { // pooled buffers of every size
			req := httptest.NewRequest(http.MethodPost, "/p", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("%s: status %d, want %d: %s", tc.body, rec.Code, tc.status, rec.Body)
			}
		}
	}
	n := api.offers.count()
	if n != 0 {
		t.Errorf("%d offers left after every request answered", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, title := range got {
		if title != "plain" && title != "<b>kept</b>" && title != "ok" {
			t.Errorf("handler got title %q", title)
		}
	}
}
