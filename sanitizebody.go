package fortapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fortapi/fortapi/sanitize"
)

// This file runs the sanitizing that body types declare with sanitize
// tags (sanitize:"rich", sanitize:"strip") after the JSON body is decoded
// and before huma validates it, so that validation (minLength, maxLength,
// pattern, ...) sees the value the handler gets and the store keeps: an
// all-script title sanitized to "" fails minLength instead of being
// stored empty. sanitize:"plain" fields are plain text, kept as sent.

// sanitizer returns Options.Sanitizer, or the API's own, built on first
// use. Called with a.mu held.
func (a *API) sanitizerLocked() *sanitize.Sanitizer {
	if a.opts.Sanitizer == nil {
		a.opts.Sanitizer = sanitize.New()
	}
	return a.opts.Sanitizer
}

// bodyType is the Go type of op's JSON request body, when it is a struct
// (or an array of structs) the registry knows; nil otherwise.
func bodyType(reg huma.Registry, op *huma.Operation) reflect.Type {
	if op.RequestBody == nil {
		return nil
	}
	mt := op.RequestBody.Content["application/json"]
	if mt == nil || mt.Schema == nil {
		return nil
	}
	s := mt.Schema
	if s.Ref != "" {
		return reg.TypeFromRef(s.Ref)
	}
	if s.Type == "array" && s.Items != nil && s.Items.Ref != "" {
		if t := reg.TypeFromRef(s.Items.Ref); t != nil {
			return reflect.SliceOf(t)
		}
	}
	return nil
}

// sanitizingBody replaces a request body: on the first Read it reads the
// body (at most limit bytes), and when it is valid strict JSON it
// sanitizes it as typ declares and serves the result: the bytes as sent
// when sanitizing changed no string (the common case: nothing to encode),
// the sanitized value re-encoded otherwise. A body it cannot use as is —
// unreadable, too large, not JSON — is served unchanged, so that huma
// answers it exactly as it would have (400, 413, 422), and the read
// error, if any, is still returned. It lives in the operation's
// context (sanitizingContext: no allocation of its own).
type sanitizingBody struct {
	src   io.ReadCloser
	typ   reflect.Type
	san   *sanitize.Sanitizer
	limit io.LimitedReader

	ready bool
	out   bytes.Reader
	err   error // returned once out is drained
	rest  bool  // then read on from src (too large)

	// api takes offers of the decoding (bodyoffer.go): decoded is the
	// decoding of sent, the body as sent, when sanitizing changed
	// nothing; offered is where it is offered, nil when it is not; stage
	// is how far its takers got.
	api     *API
	decoded any
	sent    []byte
	offered unsafe.Pointer
	stage   atomic.Uint32
}

func (b *sanitizingBody) Read(p []byte) (int, error) {
	if !b.ready {
		b.prepare()
	}
	if n := b.out.Len(); n > 0 {
		// The whole body at once, from its start: p is where huma's
		// buffer starts, where it will decode the body from.
		whole := b.decoded != nil && b.offered == nil && n == len(b.sent) && len(p) >= n
		m, err := b.out.Read(p)
		if whole && m == n {
			b.offer(&p[0])
		}
		return m, err
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.rest {
		return b.src.Read(p)
	}
	return 0, io.EOF
}

func (b *sanitizingBody) Close() error { return b.src.Close() }

func (b *sanitizingBody) prepare() {
	b.ready = true
	limit := b.limit.N
	data, err := io.ReadAll(&b.limit)
	b.out.Reset(data)
	switch {
	case err != nil:
		b.err = err
		return
	case int64(len(data)) >= limit:
		b.rest = true // huma finds it too large
		return
	}
	// The common case first: the decoding json.Unmarshal into an any
	// gives, which is what huma's first decoding gives (numbers as
	// float64), by decodeAny (fastjson.go), far fewer allocations than a
	// Decoder with UseNumber. It accepts only exactly one JSON value and
	// JSON space, as the checks below; when it declines (not JSON, a
	// number out of float64's range, or anything it is not sure of) or
	// sanitizing changes a string (the re-encoding must keep every
	// number's exact spelling), the body takes the exact-number path,
	// which decides as it always did. A body with a byte that HTML
	// sanitizing may well change or that may encode one (< > & ' and
	// escapes) takes that path at once, decoded only once; this guess
	// only saves work: either path sanitizes every string. A body
	// decodeAny decodes has passed the checks strictJSON.Unmarshal makes
	// (valid UTF-8, no duplicate member: it declines the others), so they
	// are made here only for the bodies it declines.
	if v, ok := decodeFloat(data); ok {
		v, changed, err := b.san.DecodedChanged(b.typ, v)
		if err != nil {
			b.refuse(errTooDeepToSanitize) // see prepareExact
			return
		}
		if !changed {
			if b.api != nil {
				b.decoded, b.sent = v, data
			}
			return
		}
		b.prepareExact(data)
		return
	}
	// The checks strictJSON.Unmarshal makes, then the decoding the
	// sanitizer works on, which is also the check that the body is one
	// valid JSON value (what json.Valid checks, and json.Unmarshal first).
	if !utf8.Valid(data) || noDuplicateMembers(data) != nil {
		return // huma refuses it, saying why
	}
	b.prepareExact(data)
}

// decodeFloat is the decoding of data that json.Unmarshal into an any
// gives, for the common case of prepare, or false: at once, without
// decoding, when data has a byte that sanitizing may change or that may
// encode one (< > & ' and escapes); otherwise when decodeAny declines
// (data is not JSON, invalid UTF-8, a repeated member, or not a decoding
// it is sure of). The check for the backslash here is what lets decodeAny
// take every string as written: its precondition.
func decodeFloat(data []byte) (any, bool) {
	if bytes.ContainsAny(data, `<>&'\`) {
		return nil, false
	}
	return decodeAny(data)
}

// prepareExact decodes data keeping its numbers' spelling, sanitizes it
// and serves the bytes as sent or the sanitized value re-encoded.
func (b *sanitizingBody) prepareExact(data []byte) {
	dec := json.NewDecoder(&b.out) // b.out is reset to data below
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	b.out.Reset(data)
	if err != nil || !onlyJSONSpace(data[dec.InputOffset():]) {
		return // not JSON, nesting deeper than encoding/json takes, or trailing data: huma refuses it
	}
	v, changed, err := b.san.DecodedChanged(b.typ, v)
	if err != nil {
		// Bad tags are refused at start-up, so this is a body nesting
		// deeper than the sanitizer follows (sanitize.ErrTooDeep): it is
		// refused, never served as sent, which would skip sanitizing.
		b.refuse(errTooDeepToSanitize)
		return
	}
	if !changed {
		// Every tagged string is as sent: the bytes as sent say exactly
		// what the sanitized value says, and huma decodes them, taking
		// this decoding for its first one when it can (bodyoffer.go).
		if b.api != nil {
			b.decoded, b.sent = v, data
		}
		return
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.refuse(fmt.Errorf("the sanitized request body could not be encoded: %w", err))
		return
	}
	b.out.Reset(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// onlyJSONSpace reports whether b is nothing but JSON whitespace (RFC 8259:
// space, tab, line feed, carriage return).
func onlyJSONSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// refuse serves nothing and fails the read with err, recorded as the
// body's error (the answer's status: bodyContext.failure).
func (b *sanitizingBody) refuse(err error) {
	b.out.Reset(nil)
	b.err = err
	if w, ok := b.src.(*bodyReader); ok && w.err == nil {
		w.err = err
	}
}

// sanitizeBody puts a sanitizingBody in front of the request body of ctx
// when it is JSON. It returns false, having put nothing, when the
// Content-Type is not a well-formed JSON media type: the caller answers
// 415. huma picks its decoder from the Content-Type more leniently
// ("application/json; charset", "json" and "x+json;;" are JSON to it), so
// a body this function let pass unsanitized would be decoded anyway.
func sanitizeBody(a *API, ctx huma.Context, typ reflect.Type, san *sanitize.Sanitizer, limit int64) bool {
	r, _ := humago.Unwrap(ctx)
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	// "application/json" as such is what ParseMediaType accepts without
	// parameters: it is not parsed (a map per request).
	if ct := ctx.Header("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return false
		}
	}
	if limit <= 0 { // huma reads any size
		limit = math.MaxInt64
	}
	var b *sanitizingBody
	if c, ok := ctx.(*bodyContext); ok && c.san != nil {
		b = c.san
	} else {
		b = new(sanitizingBody)
	}
	*b = sanitizingBody{src: r.Body, typ: typ, san: san, limit: io.LimitedReader{R: r.Body, N: limit}, api: a}
	r.Body = b
	return true
}

// errTooDeepToSanitize is the read error of a body nesting deeper than
// sanitize.MaxDepth along a type that declares sanitize tags: 400.
var errTooDeepToSanitize = fmt.Errorf("the request body nests deeper than %d levels", sanitize.MaxDepth)

// errBadSanitizeTag prefixes a start-up problem with a body type's tags.
var errBadSanitizeTag = errors.New("declares a bad sanitize tag")
