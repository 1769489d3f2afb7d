package fortapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/tlsconfig"
)

// TestNewServerTLS: ServerOptions.TLSConfig attaches a certificate source;
// the server answers over TLS 1.2+ only, and the API's answers carry HSTS.
func TestNewServerTLS(t *testing.T) {
	t.Parallel()
	dc, err := tlsconfig.DevCertificate(t.TempDir(), tlsconfig.DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "ping", Method: http.MethodGet, Path: "/ping", Security: fortapi.Public()},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := fortapi.NewServer("127.0.0.1:0", h, fortapi.ServerOptions{TLSConfig: dc.TLSConfig(), Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	roots := x509.NewCertPool()
	roots.AddCert(dc.Certificate.Leaf)
	client := func(max uint16) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: max}}}
	}
	resp, err := client(0).Get("https://" + ln.Addr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" {
		t.Errorf("status %d, TLS %v, HSTS %q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	if _, err := client(tls.VersionTLS11).Get("https://" + ln.Addr().String() + "/ping"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}
