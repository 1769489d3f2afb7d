package fortapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"

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
// sanitizes it as typ declares and serves the result, re-encoded. A body
// it cannot use as is — unreadable, too large, not JSON — is served
// unchanged, so that huma answers it exactly as it would have (400, 413,
// 422), and the read error, if any, is still returned.
type sanitizingBody struct {
	src   io.ReadCloser
	typ   reflect.Type
	san   *sanitize.Sanitizer
	limit int64

	ready bool
	out   *bytes.Reader
	err   error // returned once out is drained
	rest  bool  // then read on from src (too large)
}

func (b *sanitizingBody) Read(p []byte) (int, error) {
	if !b.ready {
		b.prepare()
	}
	if b.out.Len() > 0 {
		return b.out.Read(p)
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
	data, err := io.ReadAll(io.LimitReader(b.src, b.limit))
	b.out = bytes.NewReader(data)
	switch {
	case err != nil:
		b.err = err
		return
	case int64(len(data)) >= b.limit:
		b.rest = true // huma finds it too large
		return
	}
	if strictJSON.Unmarshal(data, new(any)) != nil {
		return // huma refuses it, saying why
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers keep their exact spelling
	var v any
	if dec.Decode(&v) != nil {
		return
	}
	v, err = b.san.Decoded(b.typ, v)
	if err != nil {
		return // only a bad tag, refused at start-up
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return
	}
	b.out = bytes.NewReader(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// sanitizeBody puts a sanitizingBody in front of the request body of ctx
// when it is JSON.
func sanitizeBody(ctx huma.Context, typ reflect.Type, san *sanitize.Sanitizer, limit int64) {
	r, _ := humago.Unwrap(ctx)
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	ct := ctx.Header("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return // huma answers 415
		}
	}
	if limit <= 0 { // huma reads any size
		limit = math.MaxInt64
	}
	r.Body = &sanitizingBody{src: r.Body, typ: typ, san: san, limit: limit}
}

// errBadSanitizeTag prefixes a start-up problem with a body type's tags.
var errBadSanitizeTag = errors.New("declares a bad sanitize tag")
