package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// hostileStrings are strings whose JSON encoding escapes something, or
// nearly does.
var hostileStrings = []string{
	"", "plain", "Hammer 12\"", `back\slash`, "<script>alert(1)</script>", "a&b", "x > y",
	"\x00\x01\x07\x1f\x7f", "\b\f\n\r\t", "\u2028 and \u2029", "\u2027\u202a",
	"\xff", "\xfe\xff ok", "\xed\xa0\x80", "\xe2\x80", "trailing \xe2", "\xc0\xaf",
	"é😀 ünïcödé", "\ufffd", "\U0010ffff", "'single' `back`", "</script><!--", "\\u003c",
}

// itemCorpus is items that exercise every branch of Item.AppendFortapiJSON and
// of its fallback.
func itemCorpus() []Item {
	t0 := time.Date(2026, 12, 6, 13, 12, 23, 123456000, time.UTC)
	tax := 2.5
	var items []Item
	for _, s := range hostileStrings {
		items = append(items,
			Item{ID: s, Owner: "o", Name: "n", Description: "d", Price: 1, PriceWithTax: 1, CreatedAt: t0, UpdatedAt: t0},
			Item{ID: "i", Owner: s, Name: s, Description: s + s, Price: 12.5, Tax: &tax, PriceWithTax: 15, CreatedAt: t0, UpdatedAt: t0})
	}
	floats := []float64{0, math.Copysign(0, -1), 1.5, 12.5, 0.1, 1e-6, 9.99e-7, 1e-7, -1e-7, 1e20, 1e21, 999999999999999999999.0,
		123456789.123456789, 1e9, math.MaxFloat64, math.SmallestNonzeroFloat64, -3.25, math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, f := range floats {
		f := f
		items = append(items,
			Item{ID: "p", Price: f, PriceWithTax: 1, CreatedAt: t0, UpdatedAt: t0},
			Item{ID: "t", Price: 1, Tax: &f, PriceWithTax: 1, CreatedAt: t0, UpdatedAt: t0},
			Item{ID: "w", Price: 1, PriceWithTax: f, CreatedAt: t0, UpdatedAt: t0})
	}
	times := []time.Time{
		{}, t0, t0.Truncate(time.Second), t0.Add(789), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		t0.In(time.FixedZone("CET", 3600)), t0.In(time.FixedZone("odd", -(3*3600 + 30*60 + 17))), t0.Local(),
		time.Unix(0, 0).UTC(), time.UnixMicro(1).UTC(),
	}
	for _, tm := range times {
		items = append(items,
			Item{ID: "c", Price: 1, PriceWithTax: 1, CreatedAt: tm, UpdatedAt: t0},
			Item{ID: "u", Price: 1, PriceWithTax: 1, CreatedAt: t0, UpdatedAt: tm})
	}
	return items
}

// checkItemJSON fails t unless AppendFortapiJSON appends to a prefix the bytes
// encoding/json writes for the item's fields by reflection, or fails
// wherever encoding/json fails, leaving the prefix as it was; and unless
// json.Marshal of the Item (pages and events nest items) writes them too.
func checkItemJSON(t *testing.T, it Item) {
	t.Helper()
	want, wantErr := json.Marshal(itemFields(it))
	prefix := []byte("prefix ")
	got, err := it.AppendFortapiJSON(prefix[:len(prefix):len(prefix)])
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendFortapiJSON(%+v) error %v, encoding/json's %v", it, err, wantErr)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendFortapiJSON(%+v) lost the prefix: %q", it, got)
	}
	if wantErr != nil {
		if len(got) != len(prefix) {
			t.Fatalf("AppendFortapiJSON(%+v) failed but appended %q", it, got[len(prefix):])
		}
		return
	}
	if got := got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("AppendFortapiJSON(%+v)\n got %s\nwant %s", it, got, want)
	}
	if viaMarshal, err := json.Marshal(it); err != nil || !bytes.Equal(viaMarshal, want) {
		t.Fatalf("json.Marshal(%+v) = %s, %v\nwant %s", it, viaMarshal, err, want)
	}
}

// Item.AppendFortapiJSON writes exactly what encoding/json writes for Item's
// fields by reflection, hostile strings, odd numbers and times included.
func TestItemJSONEqualsReflection(t *testing.T) {
	corpus := itemCorpus()
	fast := 0
	for _, it := range corpus {
		checkItemJSON(t, it)
		if it.plain() {
			fast++
		}
	}
	// The corpus must exercise the fast encoding, not only the fallback.
	if fast < len(corpus)/2 {
		t.Fatalf("only %d of %d corpus items take the fast encoding", fast, len(corpus))
	}
	// Inside the pages and events that carry items, too.
	page := ItemPage{Items: corpus[:8], NextCursor: "c"}
	got, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	type pageFields struct {
		Items      []itemFields `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}
	ref := pageFields{NextCursor: "c"}
	for _, it := range page.Items {
		ref.Items = append(ref.Items, itemFields(it))
	}
	if want, _ := json.Marshal(ref); !bytes.Equal(got, want) {
		t.Errorf("page\n got %s\nwant %s", got, want)
	}
}

// FuzzItemJSON checks Item.AppendFortapiJSON against encoding/json on any text
// and numbers: go test -fuzz FuzzItemJSON ./server/httpapi/
func FuzzItemJSON(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, s, 12.5, 2.5, true, int64(1765026743123456000))
	}
	f.Add("", "", math.NaN(), 1e-7, false, int64(0))
	f.Fuzz(func(t *testing.T, name, desc string, price, tax float64, hasTax bool, nanos int64) {
		tm := time.Unix(0, nanos).UTC()
		it := Item{ID: name + desc, Owner: desc, Name: name, Description: desc, Price: price, PriceWithTax: price + tax, CreatedAt: tm, UpdatedAt: tm.Add(time.Microsecond)}
		if hasTax {
			it.Tax = &tax
		}
		checkItemJSON(t, it)
	})
}

func TestAppendRFC3339NanoUTC(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 12, 6, 15, 4, 5, 1, time.UTC),
		time.Date(2026, 2, 28, 9, 8, 7, 100000000, time.UTC),
		time.Date(2024, 2, 29, 10, 0, 0, 123456000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 120, time.UTC),
		time.UnixMicro(1765026743123456).UTC(),
	} {
		t.Run(tm.Format(time.RFC3339Nano), func(t *testing.T) {
			if !plainTime(tm) {
				t.Fatal("not a plain time")
			}
			want := tm.AppendFormat([]byte("x"), time.RFC3339Nano)
			if got := appendRFC3339NanoUTC([]byte("x"), tm); !bytes.Equal(got, want) {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// TestAppendRFC3339NanoUTCEveryDay compares the calendar arithmetic with
// the time package's on every day of years 0 to 9999 (and a time of day
// that moves each step), leap days and century rules included.
func TestAppendRFC3339NanoUTCEveryDay(t *testing.T) {
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	var got, want []byte
	n := 0
	for tm := start; !tm.After(end); tm = tm.Add(24*time.Hour + 7*time.Second + 1013*time.Microsecond) {
		got = appendRFC3339NanoUTC(got[:0], tm)
		want = tm.AppendFormat(want[:0], time.RFC3339Nano)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
		n++
	}
	if n < 3_600_000 {
		t.Fatalf("only %d days checked", n)
	}
	for _, tm := range []time.Time{end, end.Truncate(time.Second), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
		if got, want := appendRFC3339NanoUTC(nil, tm), tm.AppendFormat(nil, time.RFC3339Nano); !bytes.Equal(got, want) {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
