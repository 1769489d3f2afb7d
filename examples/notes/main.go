// Command notes is a small notes API built on fortapi: the way to start.
// Users log in at POST /token (OAuth2 password and refresh grants, form
// encoded), then create and read their own notes with the bearer token.
// Keys and refresh tokens live in memory (development: they are lost at
// exit), the server speaks HTTPS with a self-signed development
// certificate, or plain HTTP with the explicit --insecure-http.
//
//	go run ./examples/notes                      # https://localhost:8443
//	curl --cacert .notes-tls/cert.pem -d grant_type=password -d username=alice \
//	     -d password="$NOTES_PASSWORD" https://localhost:8443/token
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/tlsconfig"
	"github.com/fortapi/fortapi/token"
)

// NoteInput is what a client sends: the title is plain text (kept as
// sent, escaped by whoever shows it), the body is HTML, sanitized before
// it is validated, so a body of nothing but <script> is empty: 422.
type NoteInput struct {
	Title string `json:"title" minLength:"1" maxLength:"100" sanitize:"plain"`
	Body  string `json:"body" minLength:"1" maxLength:"10000" sanitize:"rich"`
}

// Note is a stored note.
type Note struct {
	ID string `json:"id"`
	NoteInput
	Created time.Time `json:"created"`
}

type noteOut struct{ Body Note }

// notes keeps each user's notes in memory.
type notes struct {
	mu     sync.Mutex
	byUser map[string]map[string]Note
}

func (n *notes) create(ctx context.Context, in *struct{ Body NoteInput }) (*noteOut, error) {
	p, _ := fortapi.PrincipalFrom(ctx)
	var id [12]byte
	_, _ = rand.Read(id[:])
	note := Note{ID: base64.RawURLEncoding.EncodeToString(id[:]), NoteInput: in.Body, Created: time.Now().UTC()}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byUser[p.Subject] == nil {
		n.byUser[p.Subject] = map[string]Note{}
	}
	n.byUser[p.Subject][note.ID] = note
	return &noteOut{Body: note}, nil
}

func (n *notes) get(ctx context.Context, in *struct {
	ID string `path:"id" maxLength:"32"`
}) (*noteOut, error) {
	p, _ := fortapi.PrincipalFrom(ctx)
	n.mu.Lock()
	defer n.mu.Unlock()
	note, ok := n.byUser[p.Subject][in.ID] // another user's note is not found
	if !ok {
		return nil, huma.Error404NotFound("no such note")
	}
	return &noteOut{Body: note}, nil
}

// newAPI builds the handler: alice (password alicePassword) may read and
// write notes.
func newAPI(ctx context.Context, alicePassword string, log *slog.Logger) (http.Handler, error) {
	ring, err := jwtkey.NewMemoryRing(ctx, jwtkey.Options{Logger: log}) // production: jwtkey.Open on a database
	if err != nil {
		return nil, err
	}
	revocations := token.NewRevocations(token.RevocationsOptions{})
	tokens, err := token.New(token.Options{Issuer: "https://notes.example", Audience: "notes", Keys: ring, Revocations: revocations})
	if err != nil {
		return nil, err
	}
	hasher, err := password.NewHasher(password.HasherOptions{})
	if err != nil {
		return nil, err
	}
	aliceHash, err := hasher.Hash(ctx, alicePassword)
	if err != nil {
		return nil, err
	}
	alice := fortapi.TokenUser{Subject: "user-alice", PasswordHash: aliceHash, Scopes: []string{"notes:read", "notes:write"}}
	api := fortapi.New(fortapi.Options{Title: "Notes", Version: "1.0.0", Logger: log,
		Authenticator: fortapi.NewTokenAuthenticator(tokens),
		OAuth2:        &fortapi.OAuth2Password{TokenURL: "/token", Scopes: map[string]string{"notes:read": "read notes", "notes:write": "write notes"}}})
	err = fortapi.RegisterTokenEndpoint(api, fortapi.TokenEndpoint{
		Tokens: tokens, Hasher: hasher,
		Refresh: token.NewMemoryRefresh(token.MemoryRefreshOptions{Revocations: revocations}),
		UserByName: func(_ context.Context, name string) (fortapi.TokenUser, error) {
			if name == "alice" {
				return alice, nil
			}
			return fortapi.TokenUser{}, fortapi.ErrUnknownUser
		},
		UserBySubject: func(_ context.Context, sub string) (fortapi.TokenUser, error) {
			if sub == alice.Subject {
				return alice, nil
			}
			return fortapi.TokenUser{}, fortapi.ErrUnknownUser
		},
	})
	if err != nil {
		return nil, err
	}
	n := &notes{byUser: map[string]map[string]Note{}}
	huma.Register(api, huma.Operation{OperationID: "create-note", Method: http.MethodPost, Path: "/notes",
		DefaultStatus: http.StatusCreated, Security: fortapi.Scopes("notes:write"),
		Extensions: fortapi.RateLimits(fortapi.PerUser("writes", "60/minute"))}, n.create)
	huma.Register(api, huma.Operation{OperationID: "get-note", Method: http.MethodGet, Path: "/notes/{id}",
		Security: fortapi.Scopes("notes:read")}, n.get)
	return api.Handler()
}

// newServer serves h over HTTPS with a development certificate kept in
// certDir, or over plain HTTP when insecureHTTP is set.
func newServer(addr, certDir string, insecureHTTP bool, h http.Handler, log *slog.Logger) (*http.Server, error) {
	opts := fortapi.ServerOptions{Logger: log}
	if insecureHTTP {
		log.Warn("--insecure-http: serving plain HTTP; passwords and tokens cross the network in clear text (local development only)")
	} else {
		dc, err := tlsconfig.DevCertificate(certDir, tlsconfig.DevCertOptions{})
		if err != nil {
			return nil, err
		}
		log.Info("development certificate", "cert", dc.CertFile, "sha256", dc.Fingerprint)
		opts.TLSConfig = dc.TLSConfig() // production: tlsconfig.NewFileReloader or tlsconfig.ACME
	}
	return fortapi.NewServer(addr, h, opts), nil
}

func main() {
	addr := flag.String("addr", "localhost:8443", "listen address")
	certDir := flag.String("dev-cert-dir", ".notes-tls", "where the development certificate is kept")
	insecure := flag.Bool("insecure-http", false, "serve plain HTTP instead of HTTPS (local development only)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pw := os.Getenv("NOTES_PASSWORD")
	if pw == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		pw = base64.RawURLEncoding.EncodeToString(b[:])
		fmt.Fprintf(os.Stderr, "NOTES_PASSWORD is not set; alice's password for this run: %s\n", pw)
	}
	h, err := newAPI(context.Background(), pw, log)
	if err == nil {
		var srv *http.Server
		if srv, err = newServer(*addr, *certDir, *insecure, h, log); err == nil {
			log.Info("serving", "addr", *addr, "tls", srv.TLSConfig != nil)
			if srv.TLSConfig != nil {
				err = srv.ListenAndServeTLS("", "")
			} else {
				err = srv.ListenAndServe()
			}
		}
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}
