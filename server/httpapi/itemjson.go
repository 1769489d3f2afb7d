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
// without its trailing zeros, and "Z". It computes the fields from the Unix
// time directly (days to a civil date as in H. Hinnant's days_from_civil
// inverse): the general formatter interprets the layout and t.Date and
// t.Clock each redo the calendar, together about 850 instructions a time.
func appendRFC3339NanoUTC(b []byte, t time.Time) []byte {
	secs := t.Unix()
	days := secs / 86400
	sod := secs - days*86400
	if sod < 0 { // before 1970: floor, not truncation
		sod += 86400
		days--
	}
	// Days since -0400-03-01 (one 400-year era of 146097 days before
	// 0000-03-01, so that January and February of year 0 count too);
	// plainTime keeps the year within 0..9999, so z is never negative.
	z := days + 719468 + 146097
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1
	mp := (5*doy + 2) / 153                                // [0, 11], March = 0
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	year := yoe + era*400 - 400
	if month > 12 {
		month -= 12
		year++
	}
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+sod/36000), byte('0'+sod/3600%10), ':',
		byte('0'+sod/600%6), byte('0'+sod/60%10), ':',
		byte('0'+sod%60/10), byte('0'+sod%10))
	if ns := t.Nanosecond(); ns != 0 {
		width := 9
		for ns%10 == 0 {
			ns /= 10
			width--
		}
		b = append(b, '.')
		b = append(b, "000000000"[:width]...)
		for i := len(b) - 1; ns > 0; i-- {
			b[i] = byte('0' + ns%10)
			ns /= 10
		}
	}
	return append(b, 'Z')
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
