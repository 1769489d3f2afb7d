package fortapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unsafe"
)

// huma validates a JSON body by decoding it into an any, checking that
// against the schema, and then decoding it again into the input struct.
// On an operation that sanitizes, the sanitizer has already decoded the
// body (sanitizingBody.prepare), after the same strict checks as
// strictJSON.Unmarshal (valid UTF-8, no duplicate member, one JSON value).
// When sanitizing changed nothing, the bytes huma reads are the bytes the
// sanitizer decoded, and that decoding, with its numbers turned into
// float64 as json.Unmarshal turns them, is exactly what huma's first
// decoding would produce: it is offered to it instead (API.Unmarshal).
//
// The offer is keyed by where huma's body buffer starts: the sanitizer
// sees it when it hands the whole body over in one Read. huma keeps the
// body in that buffer until it has decoded it, unless the buffer grows
// after the Read (then the key does not match and huma decodes). A taker
// checks that the bytes are the sanitizer's, byte for byte, so even an
// offer left behind by a request whose buffer was recycled can only ever
// give the decoding of the very bytes being decoded. An offer is taken
// once, and withdrawn when its request's handler returns.

// offer makes b's decoding available to the decode of the body huma
// reads into the buffer starting at at.
func (b *sanitizingBody) offer(at *byte) {
	b.offered = unsafe.Pointer(at)
	b.api.offers.Store(b.offered, b)
}

// keyOf is the key of an offer for the body data.
func (*sanitizingBody) keyOf(data []byte) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(data))
}

// withdraw removes b's offer if it was not taken.
func (b *sanitizingBody) withdraw() {
	if b.offered != nil {
		b.api.offers.CompareAndDelete(b.offered, b)
	}
}

// take returns the decoding of data that b offers, as json.Unmarshal
// into an any would give it, or false: data is not the body b decoded,
// or a number is out of float64's range (json.Unmarshal's error, which
// the caller's own decoding then reports).
func (b *sanitizingBody) take(data []byte) (any, bool) {
	v := b.decoded
	if v == nil || !bytes.Equal(data, b.sent) {
		return nil, false
	}
	b.decoded = nil
	v, ok := floatNumbers(v)
	return v, ok
}

// floatNumbers replaces, in place, every json.Number of v (a decoding
// with UseNumber) by its float64, as json.Unmarshal decodes a number
// into an any (strconv.ParseFloat, 64 bits); false when one is out of
// range.
func floatNumbers(v any) (any, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case map[string]any:
		for k, e := range x {
			f, ok := floatNumbers(e)
			if !ok {
				return nil, false
			}
			x[k] = f
		}
	case []any:
		for i, e := range x {
			f, ok := floatNumbers(e)
			if !ok {
				return nil, false
			}
			x[i] = f
		}
	}
	return v, true
}

// Unmarshal is huma's decoding of request bodies: the sanitizer's
// decoding when it offers one for exactly these bytes (see above), huma's
// own (strictJSON) otherwise.
func (a *API) Unmarshal(contentType string, data []byte, v any) error {
	if pv, ok := v.(*any); ok && contentType == "application/json" && len(data) > 0 {
		if o, ok := a.offers.LoadAndDelete((*sanitizingBody)(nil).keyOf(data)); ok {
			if d, ok := o.(*sanitizingBody).take(data); ok {
				*pv = d
				return nil
			}
		}
	}
	return a.API.Unmarshal(contentType, data, v)
}
