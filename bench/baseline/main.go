package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/server"
)

// item is an item as the API shows it (the shape of fortapi's httpapi.Item).
type item struct {
	ID           string    `json:"id"`
	Owner        string    `json:"owner"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Price        float64   `json:"price"`
	Tax          *float64  `json:"tax"`
	PriceWithTax float64   `json:"price_with_tax"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// itemInput is what a client sends.
type itemInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Price       float64  `json:"price"`
	Tax         *float64 `json:"tax"`
}

type store struct {
	auth  *verifier
	mu    sync.RWMutex
	items map[string]item
}

// newID uses the reference server's id generator (UUIDv7), so both servers
// do the same work for an id.
func newID() string {
	id, _ := server.NewID(time.Now(), nil) // crypto/rand does not fail
	return id
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{http.StatusText(status), status, detail})
}

// verifier checks HS256 access tokens with golang-jwt on every request:
// the reference point DESIGN.md §8 names for fortapi's authenticated path.
type verifier struct {
	key    []byte
	parser *jwt.Parser
}

func newVerifier() (*verifier, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &verifier{key: key, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("baseline"), jwt.WithAudience("baseline"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second),
	)}, nil
}

// mint returns a token for sub valid for d.
func (v *verifier) mint(sub string, d time.Duration) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "baseline", Audience: jwt.ClaimStrings{"baseline"}, Subject: sub,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(d)),
	}).SignedString(v.key)
}

// user is the caller's id from a verified bearer token, or "" after
// answering 401.
func (v *verifier) user(w http.ResponseWriter, r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var claims jwt.RegisteredClaims
	if ok {
		_, err := v.parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return v.key, nil })
		ok = err == nil && claims.Subject != ""
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		problem(w, http.StatusUnauthorized, "authentication required")
		return ""
	}
	return claims.Subject
}

func (s *store) protected(w http.ResponseWriter, r *http.Request) {
	owner := s.auth.user(w, r)
	if owner == "" {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, " + owner + ": your token is valid."})
}

func (s *store) create(w http.ResponseWriter, r *http.Request) {
	owner := s.auth.user(w, r)
	if owner == "" {
		return
	}
	var in itemInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	it := item{
		ID: newID(), Owner: owner, Name: in.Name, Description: in.Description,
		Price: in.Price, Tax: in.Tax, PriceWithTax: in.Price,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.Tax != nil {
		it.PriceWithTax += *in.Tax
	}
	s.mu.Lock()
	s.items[it.ID] = it
	s.mu.Unlock()
	w.Header().Set("Location", "/items/"+it.ID)
	writeJSON(w, http.StatusCreated, it)
}

func (s *store) get(w http.ResponseWriter, r *http.Request) {
	owner := s.auth.user(w, r)
	if owner == "" {
		return
	}
	s.mu.RLock()
	it, ok := s.items[r.PathValue("id")]
	s.mu.RUnlock()
	if !ok || it.Owner != owner {
		problem(w, http.StatusNotFound, "no such item")
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8444", "HOST:PORT to serve HTTPS on (port 0 picks a free port)")
	cert := flag.String("cert", "", "PEM certificate file (required)")
	key := flag.String("key", "", "PEM private key file (required)")
	insecure := flag.Bool("insecure-http", false, "serve plain HTTP instead of HTTPS (as fortapi serve --insecure-http); --cert and --key are then not needed")
	sameHeaders := flag.Bool("fortapi-headers", false, "send on every response the header fields fortapi serve sends on GET /protected (fixed values, nothing enforced): measures what those fields cost net/http and the client, apart from producing them")
	flag.Parse()
	if !*insecure && (*cert == "" || *key == "") {
		fmt.Fprintln(os.Stderr, "baseline: --cert and --key are required")
		os.Exit(2)
	}

	v, err := newVerifier()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	tok, err := v.mint("bench", time.Hour)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	s := &store{auth: v, items: make(map[string]item)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /protected", s.protected)
	mux.HandleFunc("POST /items/{$}", s.create)
	mux.HandleFunc("GET /items/{id}", s.get)
	var handler http.Handler = mux
	if *sameHeaders {
		if handler, err = withFortapiHeaders(mux, !*insecure); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	if *insecure {
		fmt.Fprintf(os.Stderr, "token %s\nserving http://%s\n", tok, ln.Addr())
		err = srv.Serve(ln)
	} else {
		fmt.Fprintf(os.Stderr, "token %s\nserving https://%s\n", tok, ln.Addr())
		err = srv.ServeTLS(ln, *cert, *key)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
