package fortapi

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
	"github.com/fortapi/fortapi/internal/problem"
	"github.com/fortapi/fortapi/ratelimit"
)

// RequestID returns the id of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string { return problem.RequestID(ctx) }

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9._-]: enough for
// UUIDs and trace ids, too little for log injection.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// frontDoor is the outermost handler: request id, access log, panic
// recovery, the global rate limit, the header size cap, CSRF protection,
// and problem+json answers for requests that match no route.
type frontDoor struct {
	api *API
	// next is the mux, behind the CSRF check when Options.CSRF is set.
	next http.Handler
	// limited: the API has a rate limit (global, or an operation's),
	// whose fields the recorder collects.
	limited bool
}

// exchange is the front door's state for one request, allocated once:
// the recorder, the context carrying the request id, the id's random
// bytes and the X-Request-Id header's value slice.
type exchange struct {
	rec recorder
	ctx frontContext
	rnd [idBytes]byte
	hdr [1]string
}

// frontContext is the request's context below the front door: it carries
// the request id and answers recorderKey with the recorder, whose
// rate-limit fields the guard adds to.
type frontContext struct {
	problem.IDContext
	rec *recorder
}

type recorderKey struct{}

func (c *frontContext) Value(key any) any {
	if key == (recorderKey{}) {
		return c.rec
	}
	return c.IDContext.Value(key)
}

// pendingFields returns the rate-limit fields the front door's recorder
// collects for r, or nil when r did not come through a front door that
// collects them.
func pendingFields(r *http.Request) *ratelimit.Fields {
	if rec, ok := r.Context().Value(recorderKey{}).(*recorder); ok && rec.collect {
		return &rec.fields
	}
	return nil
}

// newID returns a fresh request id: 16 bytes of Options.Rand (through
// the API's idSource) in hex.
func (f *frontDoor) newID(x *exchange) string {
	if err := f.api.ids.read(x.rnd[:]); err != nil {
		// Without randomness the id is still unique enough to trace a
		// request; it is not a secret.
		return fmt.Sprintf("t%x", f.api.opts.Now().UnixNano())
	}
	var buf [2 * len(x.rnd)]byte
	hex.Encode(buf[:], x.rnd[:])
	return string(buf[:])
}

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := f.api.opts.Now()
	x := &exchange{}
	// The canonical name indexes the map as Header.Get would, without
	// canonicalizing it on every request.
	var id string
	if v := r.Header["X-Request-Id"]; len(v) > 0 {
		id = v[0]
	}
	if !validRequestID(id) {
		id = f.newID(x)
	}
	x.ctx = frontContext{IDContext: problem.IDContext{Context: r.Context(), ID: id}, rec: &x.rec}
	r = r.WithContext(&x.ctx)
	// The header's own value slice (length and capacity 1: an append by a
	// handler copies), set without canonicalizing the key.
	x.hdr[0] = id
	w.Header()["X-Request-Id"] = x.hdr[:]
	x.rec = recorder{ResponseWriter: w, req: r, intercept: true}
	rec := &x.rec
	if m := f.api.metrics; m != nil {
		m.begin()
		defer m.done(r, rec, start)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				f.logAccess(r, rec, start, id)
				panic(v)
			}
			f.api.log.LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.String("request_id", id), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if rec.status != 0 {
				// Too late for an error answer: cut the connection so the
				// client sees a failure, not a truncated success.
				f.logAccess(r, rec, start, id)
				panic(http.ErrAbortHandler)
			}
			problem.Write(rec, r, http.StatusInternalServerError, "internal error; quote the request id "+id)
		}
		f.logAccess(r, rec, start, id)
	}()

	// The global limit counts everything, before any other work: 404s,
	// oversized headers and the docs too. Its rate-limit fields wait in
	// the recorder for the operation's limits (the guard writes them all
	// at once), or for the answer (the recorder writes them before the
	// header goes out); unless something outside already wrote such
	// fields, which the global limit's must then follow.
	rec.collect = f.limited && !ratelimit.HasFields(w.Header())
	if g := f.api.rl.global; g != nil {
		ip := f.api.rl.ip.ClientIP(r)
		if rec.collect {
			if !g.AdmitIPTo(rec, r, ip, &rec.fields) {
				return
			}
		} else if !g.AdmitIP(rec, r, ip) {
			return
		}
	}
	if n := headerSize(r); n > f.api.opts.MaxHeaderBytes {
		problem.Write(rec, r, http.StatusRequestHeaderFieldsTooLarge,
			fmt.Sprintf("the request headers total %d bytes; the limit is %d", n, f.api.opts.MaxHeaderBytes))
		return
	}
	f.next.ServeHTTP(rec, r)
	defer rec.writeFields() // a handler that wrote nothing: net/http sends the header next
	if code := rec.unrouted; code != 0 {
		// The mux matched no pattern and answered in plain text, which
		// the recorder swallowed: answer with a problem instead.
		rec.intercept, rec.unrouted = false, 0
		if code == http.StatusMethodNotAllowed {
			allow := rec.Header().Get("Allow")
			problem.Write(rec, r, code, fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, allow))
			return
		}
		problem.Write(rec, r, http.StatusNotFound, "no such resource")
	}
}

// headerSize is the size of the request line's target and the header
// block as received.
func headerSize(r *http.Request) int {
	n := len(r.RequestURI)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (f *frontDoor) logAccess(r *http.Request, rec *recorder, start time.Time, id string) {
	ctx := r.Context()
	h := f.api.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	// The line is handed to the handler here rather than by
	// Logger.LogAttrs: one clock reading serves as the record's time and
	// the request's end, no caller PC is looked up (the line's source
	// would be this function on every request; a handler with AddSource
	// prints none for it), and a handler that implements
	// accesslog.Handler (fortapi serve's: the redacting handler, the JSON
	// one) writes it without an slog.Record; any other gets the record.
	end := f.api.opts.Now()
	_ = accesslog.Handle(ctx, h, accesslog.Line{
		Time:       end,
		RequestID:  id,
		Method:     r.Method,
		Path:       r.URL.Path,
		Status:     status,
		Bytes:      rec.bytes,
		DurationMS: float64(end.Sub(start).Microseconds()) / 1000,
		Remote:     r.RemoteAddr,
		Proto:      r.Proto,
	})
}

// recorder notes the status and size of a response. It passes Flush,
// Hijack and http.ResponseController through.
//
// While intercept is set it also catches the mux's own answer to a request
// that matched no pattern (req.Pattern is empty: the mux sets it on the
// request it routes): a plain-text 404 or 405, whose status it keeps in
// unrouted and whose body it drops, so that the front door can answer with
// a problem instead. Routing happens once per request.
//
// It also holds the rate-limit fields of the limits that admitted the
// request (collect set), and writes them into the header just before it
// goes out: at WriteHeader, the first Write or Flush, or when the front
// door returns.
type recorder struct {
	http.ResponseWriter
	req       *http.Request
	intercept bool
	unrouted  int
	status    int
	bytes     int64
	collect   bool
	fields    ratelimit.Fields
}

// writeFields writes the pending rate-limit fields.
func (w *recorder) writeFields() {
	if w.fields.Len() > 0 {
		w.fields.WriteTo(w.ResponseWriter.Header())
	}
}

func (w *recorder) WriteHeader(code int) {
	if w.intercept && w.status == 0 && w.req.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.unrouted = code
		return
	}
	w.writeFields()
	// A 5xx caused by the client going away (it closed the connection or
	// reset the stream, which cancels the request's context) is not a
	// server error: nobody reads the answer, and the log says 499.
	if code >= 500 && errors.Is(w.req.Context().Err(), context.Canceled) {
		code = StatusClientClosedRequest
	}
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.unrouted != 0 {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
		w.writeFields()
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
		w.writeFields()
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		w.status = http.StatusSwitchingProtocols
		c, rw, err := h.Hijack()
		if err == nil {
			w.fields.Reset() // no header goes out after a hijack
		}
		return c, rw, err
	}
	return nil, nil, errors.New("fortapi: the connection cannot be hijacked")
}
