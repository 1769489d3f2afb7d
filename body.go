package fortapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// bodyReader wraps a request body and keeps the first error reading it
// returned (other than io.EOF), so that the error huma turns into a 500
// ("cannot read request body") can be answered for what it is: the
// client's malformed or oversized body.
type bodyReader struct {
	io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// bodyContext is the huma context of an operation once fortapi's guard
// has admitted it, allocated once per request (opContext): it carries the
// authenticated principal (Context answers PrincipalFrom), and, when the
// request has a body, it watches the body's reads, and when reading
// failed it turns the 500 huma answers to any read error ("cannot read
// request body") into the status the failure deserves (BodyReadStatus);
// transformError rewrites the problem's members to match.
type bodyContext struct {
	humaContext
	// vctx is Context() when a principal is set.
	vctx principalContext
	// body.ReadCloser is nil when the request has no body to watch.
	body bodyReader
	// san, on operations whose body type declares sanitize tags, reads
	// the body before huma does (sanitizeBody); it lives in the same
	// allocation (sanitizingContext).
	san *sanitizingBody
	// w is the response writer under humaContext; ct backs the
	// Content-Type value slice SetHeader gives the response, and one the
	// slice of the first other field it sets (a created resource's
	// Location): each their own, length and capacity 1.
	w   http.ResponseWriter
	ct  [1]string
	one [1]string
	// r is the request under humaContext.
	r *http.Request
}

// sanitizingContext is the bodyContext of a request whose body is
// sanitized, with room for the sanitizing reader: one allocation, and
// the other requests' contexts do not carry the room.
type sanitizingContext struct {
	bodyContext
	san sanitizingBody
}

// principalContext is a context carrying the authenticated principal.
type principalContext struct {
	context.Context
	p *Principal
}

// Value answers principalKey with the principal, every other key from the
// parent.
func (c *principalContext) Value(key any) any {
	if key == (principalKey{}) {
		return c.p
	}
	return c.Context.Value(key)
}

// humaContext names the embedded huma.Context, whose method Context would
// otherwise clash with the field's name.
type humaContext = huma.Context

// opContext returns ctx with the principal p (when not nil), watching the
// body of its request (when it has one), with room for the sanitizing
// reader when sanitizing and there is a body: one allocation, none when
// there is neither a principal nor a body.
func opContext(ctx huma.Context, p *Principal, sanitizing bool) huma.Context {
	r, w := humago.Unwrap(ctx)
	hasBody := r.Body != nil && r.Body != http.NoBody
	if p == nil && !hasBody {
		return ctx
	}
	var c *bodyContext
	if sanitizing && hasBody {
		sc := &sanitizingContext{}
		sc.bodyContext.san = &sc.san
		c = &sc.bodyContext
	} else {
		c = &bodyContext{}
	}
	c.humaContext, c.w, c.r = ctx, w, r
	if p != nil {
		c.vctx = principalContext{Context: ctx.Context(), p: p}
	}
	if hasBody {
		c.body.ReadCloser = r.Body
		r.Body = &c.body
	}
	return c
}

// Context is the request's context, with the principal when there is one.
func (c *bodyContext) Context() context.Context {
	if c.vctx.p != nil {
		return &c.vctx
	}
	return c.humaContext.Context()
}

// SetHeader is Header().Set; huma's Content-Type on every answer is
// assigned without canonicalizing its (canonical) name or allocating its
// value slice, the first time, and so is the first other field's value
// slice.
func (c *bodyContext) SetHeader(name, value string) {
	switch {
	case name == "Content-Type" && c.ct[0] == "" && value != "":
		c.ct[0] = value
		c.w.Header()["Content-Type"] = c.ct[:]
	case name != "Content-Type" && c.one[0] == "" && value != "":
		c.one[0] = value
		c.w.Header()[http.CanonicalHeaderKey(name)] = c.one[:]
	default:
		c.humaContext.SetHeader(name, value)
	}
}

// Header is the request header name. The two names huma reads on every
// request (Accept to negotiate the answer, Content-Type of a body) index
// the header map directly: for a canonical name that is what Header.Get
// does after canonicalizing it.
func (c *bodyContext) Header(name string) string {
	switch name {
	case "Accept", "Content-Type":
		if v := c.r.Header[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return c.humaContext.Header(name)
}

// Unwrap gives humago.Unwrap (and findBody) the context underneath.
func (c *bodyContext) Unwrap() huma.Context { return c.humaContext }

// SetStatus replaces a server error caused by an unreadable body.
func (c *bodyContext) SetStatus(code int) {
	if code >= 500 {
		if status, _, ok := c.failure(); ok {
			code = status
		}
	}
	c.humaContext.SetStatus(code)
}

// failure reports the answer an unreadable body deserves, ok false when
// the body was read without error or the client has gone (499, which
// transformError and the recorder handle).
func (c *bodyContext) failure() (status int, detail string, ok bool) {
	if c.body.err == nil || errors.Is(c.Context().Err(), context.Canceled) {
		return 0, "", false
	}
	if errors.Is(c.body.err, errTooDeepToSanitize) {
		return http.StatusBadRequest, errTooDeepToSanitize.Error(), true
	}
	r, _ := humago.Unwrap(c.humaContext)
	status, detail = BodyReadStatus(c.body.err, r)
	return status, detail, true
}

// findBody returns the bodyContext under ctx, or nil.
func findBody(ctx huma.Context) *bodyContext {
	for {
		switch c := ctx.(type) {
		case *bodyContext:
			return c
		case interface{ Unwrap() huma.Context }:
			ctx = c.Unwrap()
		default:
			return nil
		}
	}
}

// BodyReadStatus classifies an error from reading a request body, as
// net/http reports it, into the answer it deserves: 413 for a body over a
// limit (*http.MaxBytesError), 408 when the body did not arrive in time
// (a read deadline, Server.ReadTimeout), 400 for a body that ended before
// its declared length or whose chunked framing is malformed
// (Transfer-Encoding: chunked with a bad or overflowing chunk size). Every
// one is the client's doing, never a server error. A client that went away
// while sending is reported by its request's cancelled context (499,
// StatusClientClosedRequest), which callers check first. The detail names
// no internal and echoes nothing from the request.
func BodyReadStatus(err error, r *http.Request) (status int, detail string) {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds the limit of %d bytes", mbe.Limit)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusRequestTimeout, "the request body did not arrive in time"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return http.StatusBadRequest, "the request body ended before its declared length"
	}
	if r != nil && slices.Contains(r.TransferEncoding, "chunked") {
		return http.StatusBadRequest, "the request body is not valid chunked encoding (Transfer-Encoding: chunked)"
	}
	return http.StatusBadRequest, "the request body could not be read"
}
