package httpapi

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/fortapi/fortapi/internal/jsonesc"
)

// itemFields is Item without its methods: what encoding/json encodes by
// reflection, field by field. It is the reference AppendFortapiJSON must equal,
// and the encoding of the items AppendFortapiJSON does not write itself (plain).
type itemFields Item

// AppendFortapiJSON appends the item to b as encoding/json encodes it, byte for
// byte (TestItemJSONEqualsReflection, FuzzItemJSON), without reflection:
// fortapi writes an answer whose body has this method with it (the
// strictJSON format), here the item answers of POST, GET and PUT. It is
// not MarshalJSON: encoding/json re-scans (compacts) whatever a
// MarshalJSON returns, which costs more than its reflection; pages and
// feed events, which nest items, keep encoding them by reflection. An
// item whose encoding could take another path in encoding/json (a number
// that is not finite or needs an exponent, a time not in UTC or outside
// years 0-9999) is encoded by encoding/json itself.
func (it Item) AppendFortapiJSON(b []byte) ([]byte, error) {
	if !it.plain() {
		enc, err := json.Marshal(itemFields(it))
		if err != nil {
			return b, err
		}
		return append(b, enc...), nil
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, it.ID)
	b = append(b, `,"owner":`...)
	b = appendJSONString(b, it.Owner)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, it.Name)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, it.Description)
	b = append(b, `,"price":`...)
	b = strconv.AppendFloat(b, it.Price, 'f', -1, 64)
	b = append(b, `,"tax":`...)
	if it.Tax == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, *it.Tax, 'f', -1, 64)
	}
	b = append(b, `,"price_with_tax":`...)
	b = strconv.AppendFloat(b, it.PriceWithTax, 'f', -1, 64)
	b = append(b, `,"created_at":"`...)
	b = appendRFC3339NanoUTC(b, it.CreatedAt)
	b = append(b, `","updated_at":"`...)
	b = appendRFC3339NanoUTC(b, it.UpdatedAt)
	b = append(b, `"}`...)
	return b, nil
}

// appendRFC3339NanoUTC appends t as t.AppendFormat(b, time.RFC3339Nano)
// does for a time in UTC with a year from 0 to 9999 (plainTime): the date
// and clock in fixed-width digits, the fraction of a second, if any,
// without its trailing zeros, and "Z". The general formatter interprets the
// layout on every call, a third of the item's encoding.
func appendRFC3339NanoUTC(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if ns := t.Nanosecond(); ns != 0 {
		width := 9
		for ns%10 == 0 {
			ns /= 10
			width--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, width)
	}
	return append(b, 'Z')
}

// appendDigits appends v, which is 0 <= v < 10^width, in width decimal
// digits with leading zeros.
func appendDigits(b []byte, v, width int) []byte {
	b = append(b, "000000000"[:width]...)
	for i := len(b) - 1; v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// plain reports whether AppendFortapiJSON's own encoding applies: every number
// is one encoding/json writes in plain decimal ('f' format: zero, or a
// magnitude from 1e-6 up to 1e21), every time is in UTC with a four-digit
// year (time.Time.MarshalJSON writes those as RFC 3339 with nanoseconds,
// which is what AppendFormat(time.RFC3339Nano) writes).
func (it Item) plain() bool {
	if !plainFloat(it.Price) || !plainFloat(it.PriceWithTax) || (it.Tax != nil && !plainFloat(*it.Tax)) {
		return false
	}
	return plainTime(it.CreatedAt) && plainTime(it.UpdatedAt)
}

func plainFloat(f float64) bool {
	a := math.Abs(f)
	return a == 0 || (a >= 1e-6 && a < 1e21) // false for NaN and ±Inf too
}

func plainTime(t time.Time) bool {
	y := t.Year()
	return t.Location() == time.UTC && y >= 0 && y <= 9999
}

// appendJSONString appends s as a JSON string, quoted and escaped as
// encoding/json escapes it with HTML escaping on (jsonesc.EncodingJSON).
func appendJSONString(b []byte, s string) []byte {
	return jsonesc.AppendString(b, s, jsonesc.EncodingJSON)
}
