package fortapi

import (
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

// fillItem is shaped as server/httpapi's ItemInput.
type fillItem struct {
	Name        string   `json:"name" minLength:"1"`
	Description string   `json:"description,omitempty"`
	Price       float64  `json:"price"`
	Tax         *float64 `json:"tax,omitempty"`
}

// fillFlags has the other field types, an untagged field, skipped and
// unexported ones, and a field named "-".
type fillFlags struct {
	B        bool    `json:"b"`
	PB       *bool   `json:"pb"`
	PS       *string `json:"ps,omitempty"`
	Untagged string
	Skipped  string `json:"-"`
	//lint:ignore SA5008 encoding/json's documented spelling of the name "-", a case fill must get right
	Dash   string `json:"-,"`
	hidden string // encoding/json ignores it
}

func ptr[T any](v T) *T { return &v }

// Prior contents, each call with pointers of its own: json.Unmarshal
// writes through a pointer that is not nil.
func itemZero() *fillItem { return &fillItem{} }
func itemSet() *fillItem {
	return &fillItem{Name: "old", Description: "old d", Price: 7, Tax: ptr(1.5)}
}
func flagsZero() *fillFlags { return &fillFlags{} }
func flagsSet() *fillFlags {
	return &fillFlags{B: true, PB: ptr(true), PS: ptr("old"), Untagged: "u", Skipped: "s", Dash: "d", hidden: "h"}
}

// decodedObject is the decoding the sanitizer offers for body, numbers as
// float64: decodeAny's when it takes the body, the exact path's (a
// Decoder with UseNumber, numbers converted as take converts them)
// otherwise; nil when the body is not one prepare would offer.
func decodedObject(body []byte) (any, bool) {
	if !utf8.Valid(body) || noDuplicateMembers(body) != nil {
		return nil, false
	}
	if v, ok := decodeFloat(body); ok {
		return v, true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	if !onlyJSONSpace(body[dec.InputOffset():]) {
		return nil, false
	}
	return floatNumbers(v)
}

// checkFill fills a struct from body's decoding by the plan of *T and
// compares it with json.Unmarshal of body into the same prior contents:
// filled, it is equal and json.Unmarshal succeeds; not filled, it is
// unchanged. It returns whether the plan filled.
func checkFill[T any](t *testing.T, prior func() *T, body string) bool {
	t.Helper()
	p := makeFillPlan(reflect.TypeFor[*T]())
	if p == nil {
		t.Fatalf("no plan for %v", reflect.TypeFor[T]())
	}
	d, ok := decodedObject([]byte(body))
	m, obj := d.(map[string]any)
	if !ok || !obj {
		t.Fatalf("%s: not a body the sanitizer offers as an object", body)
	}
	want := prior()
	wantPtrs := pointers(want)
	wantErr := json.Unmarshal([]byte(body), want)
	got := prior()
	gotPtrs := pointers(got)
	for _, alias := range []bool{true, false} {
		if !p.fill(m, got, alias) {
			if !reflect.DeepEqual(got, prior()) {
				t.Fatalf("%s: not filled, yet changed: %+v", body, got)
			}
			return false
		}
		if wantErr != nil {
			t.Fatalf("%s: filled %+v where json.Unmarshal fails: %v", body, got, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: filled %+v, json.Unmarshal %+v", body, got, want)
		}
		// A pointer encoding/json kept, fill kept; one it replaced,
		// fill replaced.
		for i, gp := range pointers(got) {
			if (gp == gotPtrs[i]) != (pointers(want)[i] == wantPtrs[i]) {
				t.Fatalf("%s: pointer field %d reused %v, by encoding/json %v", body, i, gp == gotPtrs[i], pointers(want)[i] == wantPtrs[i])
			}
		}
		got = prior()
		gotPtrs = pointers(got)
	}
	return true
}

// pointers are the values of v's pointer fields.
func pointers(v any) []uintptr {
	s := reflect.ValueOf(v).Elem()
	var ps []uintptr
	for i := range s.NumField() {
		if f := s.Field(i); f.Kind() == reflect.Pointer {
			ps = append(ps, f.Pointer())
		}
	}
	return ps
}

func TestStructFillEqualsUnmarshal(t *testing.T) {
	items := []struct {
		name, body string
		filled     bool
	}{
		{"all fields", `{"name":"a","description":"d","price":12.5,"tax":2.5}`, true},
		{"spaced", " {\n\t\"name\" : \"a\" , \"price\" : 1 } ", true},
		{"empty object", `{}`, true},
		{"missing fields", `{"name":"a"}`, true},
		{"missing pointer", `{"name":"a","price":3}`, true},
		{"null string", `{"name":null}`, true},
		{"null number", `{"price":null}`, true},
		{"null pointer", `{"tax":null}`, true},
		{"unicode", `{"name":"héllo ✓ 𝄞","description":""}`, true},
		{"escapes", `{"name":"a\"b\u00e9\n","description":"\u003c"}`, true},
		{"numbers", `{"price":-0,"tax":1e308}`, true},
		{"exact number", `{"price":9007199254740993,"tax":0.1000000000000000055511151231257827}`, true},
		{"tiny number", `{"price":1e-400}`, true},
		{"extra key", `{"name":"a","extra":1}`, false},
		{"extra null", `{"name":"a","extra":null}`, false},
		{"case-different key", `{"NAME":"a"}`, false},
		{"case-different pointer key", `{"Tax":1}`, false},
		{"Go field name", `{"Name":"a"}`, false},
		{"number for string", `{"name":1}`, false},
		{"string for number", `{"price":"12"}`, false},
		{"bool for pointer", `{"tax":true}`, false},
		{"array for number", `{"name":"a","price":[1]}`, false},
		{"object for pointer", `{"tax":{}}`, false},
		{"object for string", `{"name":{"a":"b"}}`, false},
	}
	for _, prior := range []struct {
		name string
		f    func() *fillItem
	}{{"zero", itemZero}, {"set", itemSet}} {
		for _, tc := range items {
			t.Run("item/"+prior.name+"/"+tc.name, func(t *testing.T) {
				if got := checkFill(t, prior.f, tc.body); got != tc.filled {
					t.Errorf("filled %v, want %v", got, tc.filled)
				}
			})
		}
	}

	flags := []struct {
		name, body string
		filled     bool
	}{
		{"all fields", `{"b":true,"pb":false,"ps":"x","Untagged":"u2","-":"dash"}`, true},
		{"false", `{"b":false,"pb":true}`, true},
		{"null pointers", `{"pb":null,"ps":null}`, true},
		{"null bool", `{"b":null}`, true},
		{"skipped field's name", `{"Skipped":"x"}`, false},
		{"unexported field's name", `{"hidden":"x"}`, false},
		{"untagged, case-different", `{"untagged":"x"}`, false},
		{"string for bool", `{"b":"true"}`, false},
		{"number for bool pointer", `{"pb":0}`, false},
		{"bool for string pointer", `{"ps":true}`, false},
	}
	for _, prior := range []struct {
		name string
		f    func() *fillFlags
	}{{"zero", flagsZero}, {"set", flagsSet}} {
		for _, tc := range flags {
			t.Run("flags/"+prior.name+"/"+tc.name, func(t *testing.T) {
				if got := checkFill(t, prior.f, tc.body); got != tc.filled {
					t.Errorf("filled %v, want %v", got, tc.filled)
				}
			})
		}
	}

	t.Run("nil pointer", func(t *testing.T) {
		if makeFillPlan(reflect.TypeFor[*fillItem]()).fill(map[string]any{}, (*fillItem)(nil), true) {
			t.Fatal("filled through a nil pointer")
		}
	})
}

// Types fill leaves to encoding/json.
type (
	fillDupCase struct {
		A string `json:"a"`
		B string `json:"A"`
	}
	fillDupName struct {
		A string
		B string `json:"A"`
	}
	fillNested struct {
		A struct{ B string } `json:"a"`
	}
	fillEmbedded struct {
		fillItem
	}
	fillEmbeddedPtr struct {
		*fillItem
		X string `json:"x"`
	}
	fillQuoted struct {
		N float64 `json:"n,string"`
	}
	fillOmitzero struct {
		N float64 `json:"n,omitzero"`
	}
	fillInt struct {
		N int `json:"n"`
	}
	fillFloat32 struct {
		N float32 `json:"n"`
	}
	fillNumber struct {
		N json.Number `json:"n"`
	}
	fillNamedString struct {
		S fillName `json:"s"`
	}
	fillName      string
	fillTimeField struct{ T time.Time }
	fillPtrPtr    struct{ P **string }
	fillAny       struct{ A any }
	fillMap       struct{ M map[string]string }
	fillSlice     struct{ S []string }
	fillUnicode   struct{ Ñame string }
	fillOddTag    struct {
		A string `json:"a b"`
	}
	fillUnmarshals struct{ A string }
	fillText       struct{ A string }
	fillTextValue  struct{ A string }
)

func (*fillUnmarshals) UnmarshalJSON([]byte) error { return nil }
func (*fillText) UnmarshalText([]byte) error       { return nil }
func (fillTextValue) UnmarshalText([]byte) error   { return nil }

func TestStructFillPlans(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		plan bool
	}{
		{reflect.TypeFor[*fillItem](), true},
		{reflect.TypeFor[*fillFlags](), true},
		{reflect.TypeFor[*struct{}](), true},
		{reflect.TypeFor[fillItem](), false},
		{reflect.TypeFor[**fillItem](), false},
		{reflect.TypeFor[*any](), false},
		{reflect.TypeFor[*map[string]any](), false},
		{reflect.TypeFor[*[]fillItem](), false},
		{reflect.TypeFor[*fillDupCase](), false},
		{reflect.TypeFor[*fillDupName](), false},
		{reflect.TypeFor[*fillNested](), false},
		{reflect.TypeFor[*fillEmbedded](), false},
		{reflect.TypeFor[*fillEmbeddedPtr](), false},
		{reflect.TypeFor[*fillQuoted](), false},
		{reflect.TypeFor[*fillOmitzero](), false},
		{reflect.TypeFor[*fillInt](), false},
		{reflect.TypeFor[*fillFloat32](), false},
		{reflect.TypeFor[*fillNumber](), false},
		{reflect.TypeFor[*fillNamedString](), false},
		{reflect.TypeFor[*fillTimeField](), false},
		{reflect.TypeFor[*fillPtrPtr](), false},
		{reflect.TypeFor[*fillAny](), false},
		{reflect.TypeFor[*fillMap](), false},
		{reflect.TypeFor[*fillSlice](), false},
		{reflect.TypeFor[*fillUnicode](), false},
		{reflect.TypeFor[*fillOddTag](), false},
		{reflect.TypeFor[*fillUnmarshals](), false},
		{reflect.TypeFor[*fillText](), false},
		{reflect.TypeFor[*fillTextValue](), false},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			if got := makeFillPlan(tc.typ) != nil; got != tc.plan {
				t.Fatalf("plan %v, want %v", got, tc.plan)
			}
		})
	}
}

// Through API.Unmarshal, as huma calls it: the decoding into an any
// takes the offer, the decoding into the struct fills it from the same
// object (the struct's strings are the object's), once, for the same
// bytes only; every other decoding is encoding/json's, with its result.
func TestStructFillThroughUnmarshal(t *testing.T) {
	api := New(Options{Logger: slog.New(slog.DiscardHandler)})
	api.fillable(reflect.TypeFor[fillItem]()) // as registering an operation that sanitizes it does
	// Names of more than one byte: Go's one-byte strings share static
	// storage, whoever makes them.
	const body = `{"name":"hammer","description":"d","price":12.5,"tax":2.5}`
	want := itemSet()
	if err := json.Unmarshal([]byte(body), want); err != nil {
		t.Fatal(err)
	}
	// twice decodes buf as huma does (into an any unless skipAny, then
	// into a *fillItem with prior contents) and returns both decodings.
	twice := func(t *testing.T, buf []byte, skipAny bool) (any, *fillItem, error) {
		t.Helper()
		var first any
		if !skipAny {
			if err := api.Unmarshal("application/json", buf, &first); err != nil {
				t.Fatal(err)
			}
		}
		got := itemSet()
		err := api.Unmarshal("application/json", buf, got)
		return first, got, err
	}
	shares := func(got *fillItem, m any) bool {
		return unsafe.StringData(got.Name) == unsafe.StringData(m.(map[string]any)["name"].(string))
	}
	gone := func(t *testing.T, buf []byte) {
		t.Helper()
		if _, left := api.offers.load(unsafeKey(buf)); left {
			t.Fatal("the offer is still there")
		}
	}

	t.Run("filled from the object", func(t *testing.T) {
		buf := []byte(body)
		b := offerFor(t, api, body, buf)
		first, got, err := twice(t, buf, false)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, %v; json.Unmarshal %+v", got, err, want)
		}
		if !shares(got, first) {
			t.Fatal("the struct was not filled from the object")
		}
		gone(t, buf)
		if b.decoded != nil || b.stage.Load() != offerSpent {
			t.Fatal("the offer is not spent")
		}
		again := itemSet()
		if err := api.Unmarshal("application/json", buf, again); err != nil || !reflect.DeepEqual(again, want) || shares(again, first) {
			t.Fatal("a third decoding was given the object too")
		}
	})
	t.Run("validation skipped", func(t *testing.T) {
		buf := []byte(body)
		offerFor(t, api, body, buf)
		_, got, err := twice(t, buf, true)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, %v; json.Unmarshal %+v", got, err, want)
		}
		gone(t, buf)
	})
	t.Run("other bytes in the buffer", func(t *testing.T) {
		buf := []byte(body)
		offerFor(t, api, body, buf)
		var first any
		if err := api.Unmarshal("application/json", buf, &first); err != nil {
			t.Fatal(err)
		}
		other := strings.Replace(body, `"hammer"`, `"hammex"`, 1)
		copy(buf, other)
		got := itemSet()
		if err := api.Unmarshal("application/json", buf, got); err != nil || got.Name != "hammex" {
			t.Fatalf("%+v, %v; want the buffer's bytes decoded", got, err)
		}
		gone(t, buf)
	})
	t.Run("a type fill does not handle", func(t *testing.T) {
		const body = `{"a":"x","n":1}`
		buf := []byte(body)
		b := offerFor(t, api, body, buf)
		var first any
		if err := api.Unmarshal("application/json", buf, &first); err != nil {
			t.Fatal(err)
		}
		var got, want struct {
			A string
			N int
		}
		err := api.Unmarshal("application/json", buf, &got)
		wantErr := json.Unmarshal([]byte(body), &want)
		if err != nil || wantErr != nil || got != want {
			t.Fatalf("%+v, %v; json.Unmarshal %+v, %v", got, err, want, wantErr)
		}
		b.withdraw() // as the handler's end does
		gone(t, buf)
	})
	t.Run("a fillable type no sanitizing operation takes", func(t *testing.T) {
		// The shape of fillItem, but not declared fillable: its decoding
		// looks for no offer and the offer stays for its own taker.
		type unregistered fillItem
		buf := []byte(body)
		b := offerFor(t, api, body, buf)
		var first any
		if err := api.Unmarshal("application/json", buf, &first); err != nil {
			t.Fatal(err)
		}
		var got unregistered
		if err := api.Unmarshal("application/json", buf, &got); err != nil || got.Name != want.Name {
			t.Fatalf("%+v, %v", got, err)
		}
		if unsafe.StringData(got.Name) == unsafe.StringData(first.(map[string]any)["name"].(string)) {
			t.Fatal("filled from the offer")
		}
		if _, left := api.offers.load(unsafeKey(buf)); !left || b.stage.Load() != offerObject {
			t.Fatal("the offer was taken")
		}
		b.withdraw() // as the handler's end does
		gone(t, buf)
	})
	t.Run("not an object", func(t *testing.T) {
		for _, body := range []string{`[1]`, `"s"`, `1`, `null`, `true`, `{"price":1e400}`} {
			buf := []byte(body)
			offerFor(t, api, body, buf)
			var first any
			_ = api.Unmarshal("application/json", buf, &first)
			gone(t, buf)
			got, want := itemSet(), itemSet()
			err := api.Unmarshal("application/json", buf, got)
			wantErr := json.Unmarshal([]byte(body), want)
			if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %+v, %v; json.Unmarshal %+v, %v", body, got, err, want, wantErr)
			}
		}
	})
	t.Run("a member fill leaves to encoding/json", func(t *testing.T) {
		const body = `{"NAME":"a","price":1}`
		buf := []byte(body)
		offerFor(t, api, body, buf)
		_, got, err := twice(t, buf, false)
		want := itemSet()
		if wantErr := json.Unmarshal([]byte(body), want); err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, %v; json.Unmarshal %+v", got, err, want)
		}
		gone(t, buf)
	})
	t.Run("a large body's strings are copied", func(t *testing.T) {
		body := `{"name":"hammer","description":"` + strings.Repeat("d", fillAliasMax) + `","price":1}`
		buf := []byte(body)
		offerFor(t, api, body, buf)
		first, got, err := twice(t, buf, false)
		want := itemSet()
		if wantErr := json.Unmarshal([]byte(body), want); err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, %v; json.Unmarshal %+v", got, err, want)
		}
		if shares(got, first) {
			t.Fatal("a string of a large body is shared")
		}
	})
}

// FuzzStructFill: whatever the body, a struct filled from the sanitizer's
// decoding is what json.Unmarshal makes of the body, and one not filled
// is unchanged.
func FuzzStructFill(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","description":"d","price":12.5,"tax":2.5}`,
		`{"name":null,"tax":null}`,
		`{"NAME":"a"}`,
		`{"b":true,"pb":false,"ps":"x","Untagged":"u","-":"d"}`,
		`{"pb":null,"Skipped":"x"}`,
		`{"name":"\u00e9","price":-0.0e1}`,
		`[]`,
	} {
		f.Add([]byte(s), false)
	}
	itemPlan := makeFillPlan(reflect.TypeFor[*fillItem]())
	flagsPlan := makeFillPlan(reflect.TypeFor[*fillFlags]())
	f.Fuzz(func(t *testing.T, body []byte, set bool) {
		d, ok := decodedObject(body)
		m, obj := d.(map[string]any)
		if !ok || !obj {
			return
		}
		itemPrior, flagsPrior := itemZero, flagsZero
		if set {
			itemPrior, flagsPrior = itemSet, flagsSet
		}
		compare(t, itemPlan, m, body, itemPrior)
		compare(t, flagsPlan, m, body, flagsPrior)
	})
}

func compare[T any](t *testing.T, p *fillPlan, m map[string]any, body []byte, prior func() *T) {
	t.Helper()
	got := prior()
	if !p.fill(m, got, len(body) <= fillAliasMax) {
		if !reflect.DeepEqual(got, prior()) {
			t.Fatalf("%s: not filled, yet changed: %+v", body, got)
		}
		return
	}
	want := prior()
	if err := json.Unmarshal(body, want); err != nil {
		t.Fatalf("%s: filled %+v where json.Unmarshal fails: %v", body, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: filled %+v, json.Unmarshal %+v", body, got, want)
	}
}
