package secheader

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
)

// noStoreWriter wraps the ResponseWriter of a credentialed request. Just
// before the response header can be sent (WriteHeader, the first Write,
// Flush or ReadFrom, or the handler returning) it sets Cache-Control: no-store and deletes the
// targeted cache-control fields that would override it for a CDN
// (CDN-Cache-Control of RFC 9213, vendor variants such as
// Cloudflare-CDN-Cache-Control, and Surrogate-Control), whatever the
// handler set.
//
// It passes Flush, Hijack and ReadFrom on, and Unwrap lets
// http.ResponseController reach everything else (deadlines, full duplex)
// on the writer below.
type noStoreWriter struct {
	http.ResponseWriter
	// sent: the final header is out, nothing more to force.
	sent bool
	// cc backs the Cache-Control value, so that forcing it allocates
	// nothing and the slice is this response's own.
	cc [1]string
	// vals backs the security headers' values (Headers.Handler), so that
	// a credentialed response costs one allocation.
	vals [maxHeaders]string
}

// maxHeaders is the most header fields Headers.Handler sets: every one
// New may configure.
const maxHeaders = 10

// force makes the header about to be sent say no-store.
func (w *noStoreWriter) force() {
	h := w.ResponseWriter.Header()
	for k := range h {
		// Both names end in "control" (any case): most keys are ruled
		// out by their last byte before any comparison.
		if n := len(k); n <= len("-cache-control") || k[n-1]|0x20 != 'l' {
			continue
		}
		if strings.EqualFold(k[len(k)-len("-cache-control"):], "-cache-control") ||
			strings.EqualFold(k, "Surrogate-Control") {
			delete(h, k)
		}
	}
	w.cc[0] = "no-store"
	h[keyCache] = w.cc[:]
}

// finish forces no-store when the handler returned without sending the
// header: the server sends it next.
func (w *noStoreWriter) finish() {
	if !w.sent {
		w.force()
		w.sent = true
	}
}

func (w *noStoreWriter) WriteHeader(code int) {
	if !w.sent {
		w.force()
		// An informational (1xx) header is followed by the final one,
		// which the handler may still change.
		w.sent = code >= 200 || code == http.StatusSwitchingProtocols
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.force()
		w.sent = true
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the sendfile path of io.Copy to a response.
func (w *noStoreWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.sent {
		w.force()
		w.sent = true
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// writerOnly hides every method but Write, so that io.Copy does not call
// ReadFrom again.
type writerOnly struct{ io.Writer }

func (w *noStoreWriter) Flush() {
	if !w.sent {
		w.force()
		w.sent = true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack passes the connection on (WebSocket upgrades); after it the
// handler writes raw bytes and nothing is forced. Where the writer below
// cannot hijack (HTTP/2) it returns an error matching
// http.ErrNotSupported, and a normal answer is still forced to no-store.
func (w *noStoreWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.sent = true
	}
	return c, rw, err
}

// Unwrap is for http.ResponseController.
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
