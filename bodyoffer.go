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
// once by the decoding into an any; when that decoding is an object, it
// is offered once more, to huma's second decoding of the same bytes, into
// the body struct (structfill.go). huma's validation, between the two,
// only reads it (huma.Validate, v2.37.2). An offer is withdrawn once spent,
// and in any case when its request's handler returns.
//
// An offer's stage makes each use exclusive: the key can be found by
// another request in the moment between huma returning a buffer to its
// pool and the handler's end, and a taker converts numbers in place.
const (
	offerFirst  uint32 = iota // decoded is offered to the decoding into an any
	offerHeld                 // a decoding is using it
	offerObject               // decoded, an object, is offered to the decoding into a struct
	offerSpent
)

// offer makes b's decoding available to the decode of the body huma
// reads into the buffer starting at at.
func (b *sanitizingBody) offer(at *byte) {
	b.offered = unsafe.Pointer(at)
	b.api.offers.store(b.offered, b)
}

// keyOf is the key of an offer for the body data.
func (*sanitizingBody) keyOf(data []byte) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(data))
}

// withdraw removes b's offer if it was not taken.
func (b *sanitizingBody) withdraw() {
	if b.offered != nil {
		b.api.offers.compareAndDelete(b.offered, b)
	}
}

// take returns the decoding of data that b offers, as json.Unmarshal
// into an any would give it, or false: the offer is not at its first
// stage, data is not the body b decoded, or a number is out of float64's
// range (json.Unmarshal's error, which the caller's own decoding then
// reports). An object stays offered for the decoding into the struct
// (takeObject); any other outcome spends the offer.
func (b *sanitizingBody) take(data []byte) (any, bool) {
	if !b.stage.CompareAndSwap(offerFirst, offerHeld) {
		return nil, false
	}
	v, ok := b.convert(data)
	if _, obj := v.(map[string]any); ok && obj {
		b.decoded = v
		b.stage.Store(offerObject)
		return v, true
	}
	b.decoded = nil
	b.stage.Store(offerSpent)
	b.withdraw()
	return v, ok
}

// takeObject returns the decoding of data that b offers when it is an
// object, for the decoding into a struct, and spends the offer: the
// object take handed out (huma's validation only read it), or b's
// decoding at its first stage (an operation whose validation huma skips).
func (b *sanitizingBody) takeObject(data []byte) (map[string]any, bool) {
	var (
		v  any
		ok bool
	)
	switch {
	case b.stage.CompareAndSwap(offerObject, offerSpent):
		v, ok = b.decoded, bytes.Equal(data, b.sent)
	case b.stage.CompareAndSwap(offerFirst, offerHeld):
		v, ok = b.convert(data)
		b.stage.Store(offerSpent)
	default:
		return nil, false
	}
	b.decoded = nil // spent, whatever the outcome
	m, isObject := v.(map[string]any)
	return m, ok && isObject
}

// convert is b's decoding with its numbers as float64, when data is the
// body b decoded; only the holder of the offer (offerHeld) calls it.
func (b *sanitizingBody) convert(data []byte) (any, bool) {
	v := b.decoded
	if v == nil || !bytes.Equal(data, b.sent) {
		return nil, false
	}
	return floatNumbers(v)
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
// decoding when it offers one for exactly these bytes (see above), into
// an any or, when it is an object, into a struct simple enough to be
// filled from it exactly as json.Unmarshal fills it (structfill.go);
// huma's own (strictJSON) otherwise.
func (a *API) Unmarshal(contentType string, data []byte, v any) error {
	if contentType == "application/json" && len(data) > 0 {
		if pv, ok := v.(*any); ok {
			if o, ok := a.offers.load((*sanitizingBody)(nil).keyOf(data)); ok {
				if d, ok := o.take(data); ok {
					*pv = d
					return nil
				}
			}
		} else if a.fillFromOffer(data, v) {
			return nil
		}
	}
	return a.API.Unmarshal(contentType, data, v)
}
