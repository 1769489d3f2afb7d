package problem

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

type requestIDKey struct{}

// IDContext is a context carrying a request id: &IDContext{Context: parent,
// ID: id} is WithRequestID(parent, id) for a caller that allocates it as
// part of something larger (the front door's per-request state). Its
// fields must not change once it is in use.
type IDContext struct {
	context.Context
	ID string
}

// Value answers the request id key with the IDContext itself (a pointer:
// no allocation), every other key from the parent.
func (c *IDContext) Value(key any) any {
	if key == (requestIDKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return &IDContext{Context: ctx, ID: id}
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	if c, ok := ctx.Value(requestIDKey{}).(*IDContext); ok {
		return c.ID
	}
	return ""
}

// URN is the "instance" of a problem answering request id.
func URN(id string) string { return "urn:fortapi:request:" + id }

// body has the members, names and order of huma.ErrorModel, so that every
// problem looks alike whoever wrote it.
type body struct {
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// Write answers r with an application/problem+json document for status,
// naming the request id of r's context when there is one. HEAD gets the
// headers only.
func Write(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p := body{Title: http.StatusText(status), Status: status, Detail: detail}
	if id := RequestID(r.Context()); id != "" {
		p.Instance = URN(id)
	}
	b, _ := json.Marshal(&p) // cannot fail: strings and an int
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
