package fortapi_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
)

func TestNewServerDefaults(t *testing.T) {
	srv := fortapi.NewServer(":0", http.NotFoundHandler(), fortapi.ServerOptions{})
	for _, tt := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 30 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 120 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%v, want %v", tt.got, tt.want)
			}
		})
	}
	if srv.MaxHeaderBytes != 2*fortapi.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes %d", srv.MaxHeaderBytes)
	}
}

// TestSlowlorisIsCut: a client that trickles its headers is disconnected
// after ReadHeaderTimeout.
func TestSlowlorisIsCut(t *testing.T) {
	api, _ := newTestAPI(t)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := fortapi.NewServer("127.0.0.1:0", h, fortapi.ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Keep trickling one header byte at a time; the server must hang up.
	closed := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(conn).ReadString(0) // returns when the server closes
		close(closed)
	}()
	for i := 0; i < 100; i++ {
		select {
		case <-closed:
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cut after %v", d)
			}
			return
		case <-time.After(100 * time.Millisecond):
			_, _ = conn.Write([]byte(strings.Repeat("X", 1)))
		}
	}
	t.Fatal("the server kept a slowloris connection open for 10s")
}
