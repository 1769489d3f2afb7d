package fortapi_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawExchange sends req over a new TCP connection to addr exactly as
// written (net/http's client would refuse to send most of these) and reads
// one response. With halfClose the client then closes its writing side, as
// a client that gives up in the middle of a body does, and still reads the
// answer.
func rawExchange(t *testing.T, addr, req string, halfClose bool) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A bound, not a timing assertion: a hung server fails the test
	// instead of the whole package.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestUnreadableBodiesAreClientErrors attacks the body read of a JSON
// operation with bodies that cannot be read: broken chunked framing, a
// body shorter than its Content-Length, a body an outer middleware caps.
// Each is the client's fault: a precise 4xx problem, and no ERROR in the
// log (an attacker must not be able to fill the error log or page an
// operator with malformed requests).
func TestUnreadableBodiesAreClientErrors(t *testing.T) {
	api, logs := newTestAPI(t)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	// /capped/... goes through a middleware that caps bodies at 16 bytes
	// with http.MaxBytesReader, as a library user might put in front.
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/capped/", http.StripPrefix("/capped", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16)
		h.ServeHTTP(w, r)
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	head := func(path string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: test\r\nAuthorization: Test alice things:write\r\nContent-Type: application/json\r\n"
	}
	chunked := "Transfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name      string
		req       string
		halfClose bool
		status    int
		detail    string // a fragment of the problem's detail
	}{
		{"chunk size overflows", head("/things") + chunked + "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n", false, 400, "chunked"},
		{"chunk size not hex", head("/things") + chunked + "zz\r\n{}\r\n0\r\n\r\n", false, 400, "chunked"},
		{"chunk without its CRLF", head("/things") + chunked + "2\r\n{}XX0\r\n\r\n", false, 400, "chunked"},
		// A client that stops sending and closes its side is gone: 499
		// (nginx's code) in the log, at INFO.
		{"chunked body cut off", head("/things") + chunked + "10\r\n{\"name\":", true, 499, "closed"},
		{"shorter than Content-Length", head("/things") + "Content-Length: 100\r\n\r\n{\"name\":\"a\"", true, 499, "closed"},
		{"over an outer MaxBytesReader", head("/capped/things") + "Content-Length: 38\r\n\r\n{\"name\":\"abcdefgh\",\"count\":1,\"x\":\"yz\"}", false, 413, "16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawExchange(t, addr, tt.req, tt.halfClose)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			p := decodeProblem(t, resp, b)
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tt.detail)
			}
			if len(p.Errors) != 0 {
				t.Errorf("the problem lists errors (internal detail?): %s", b)
			}
		})
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("a client's unreadable body was logged as an error:\n%s", logs.String())
	}
}
