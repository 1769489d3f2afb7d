// Command handstack is the second reference of bench/run.sh: the stack a Go
// developer would assemble by hand for the same API as fortapi's reference
// server, from the usual libraries, each used as its documentation shows:
//
//   - huma v2 (humago adapter on net/http's ServeMux): the operations,
//     their JSON Schema validation and OpenAPI document;
//   - golang-jwt v5: an HS256 bearer token verified on every request;
//   - go-chi/httprate: a global limit per client IP (1200/minute) and a
//     per-user one (600/minute), both multiplied by --rate-scale, with
//     httprate's X-RateLimit-* headers;
//   - unrolled/secure: HSTS (HTTPS only), nosniff, frame deny, referrer
//     policy, a CSP, COOP and CORP;
//   - log/slog: one JSON access-log line per request on stderr (method,
//     path, status, bytes, duration_ms, remote, proto).
//
// Items live in a mutex-protected map, as in bench/baseline (no database).
// It mints one token for the user "bench" at start and prints "token
// TOKEN", then "serving https://ADDR" (or http:// with --insecure-http)
// on stderr. It is a measuring stick, not a server to run.
//
// It is its own Go module (bench/handstack/go.mod), so that its libraries
// stay out of fortapi's go.mod; bench/run.sh builds it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/go-chi/httprate"
	"github.com/golang-jwt/jwt/v5"
	"github.com/unrolled/secure"
)

type userKey struct{}

// Item is an item as the API shows it.
type Item struct {
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

// ItemInput is what a client sends, validated by huma.
type ItemInput struct {
	Name        string   `json:"name" minLength:"1" maxLength:"200"`
	Description string   `json:"description,omitempty" maxLength:"5000"`
	Price       float64  `json:"price" minimum:"0" maximum:"1000000000"`
	Tax         *float64 `json:"tax,omitempty" minimum:"0" maximum:"1000000000"`
}

type store struct {
	mu    sync.RWMutex
	items map[string]Item
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// statusWriter notes the status and size for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr), slog.String("proto", r.Proto))
	})
}

// authenticate verifies the bearer token with golang-jwt on every request
// but GET /healthz, and puts the subject in the context.
func authenticate(key []byte, next http.Handler) http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("handstack"), jwt.WithAudience("handstack"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var c jwt.RegisteredClaims
		if ok {
			_, err := parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil })
			ok = err == nil && c.Subject != ""
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, c.Subject)))
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8445", "HOST:PORT (port 0 picks a free port)")
	cert := flag.String("cert", "", "PEM certificate file (HTTPS)")
	keyFile := flag.String("key", "", "PEM private key file (HTTPS)")
	insecure := flag.Bool("insecure-http", false, "serve plain HTTP")
	scale := flag.Int("rate-scale", 1, "multiply every rate limit")
	flag.Parse()
	if !*insecure && (*cert == "" || *keyFile == "") {
		fmt.Fprintln(os.Stderr, "handstack: --cert and --key are required without --insecure-http")
		os.Exit(2)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "handstack", Audience: jwt.ClaimStrings{"handstack"}, Subject: "bench",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString(key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handstack:", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("handstack", "1.0.0"))
	s := &store{items: map[string]Item{}}
	type message struct {
		Body struct {
			Message string `json:"message"`
		}
	}
	type status struct {
		Body struct {
			Status string `json:"status"`
		}
	}
	huma.Get(api, "/healthz", func(ctx context.Context, _ *struct{}) (*status, error) {
		out := &status{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Get(api, "/protected", func(ctx context.Context, _ *struct{}) (*message, error) {
		out := &message{}
		out.Body.Message = "Hello, " + ctx.Value(userKey{}).(string) + ": your token is valid."
		return out, nil
	})
	type created struct {
		Location string `header:"Location"`
		Body     Item
	}
	huma.Register(api, huma.Operation{OperationID: "create-item", Method: http.MethodPost, Path: "/items/", DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body ItemInput }) (*created, error) {
			t := time.Now().UTC().Truncate(time.Microsecond)
			it := Item{ID: newID(), Owner: ctx.Value(userKey{}).(string), Name: in.Body.Name, Description: in.Body.Description,
				Price: in.Body.Price, Tax: in.Body.Tax, PriceWithTax: in.Body.Price, CreatedAt: t, UpdatedAt: t}
			if it.Tax != nil {
				it.PriceWithTax += *it.Tax
			}
			s.mu.Lock()
			s.items[it.ID] = it
			s.mu.Unlock()
			return &created{Location: "/items/" + it.ID, Body: it}, nil
		})
	type got struct{ Body Item }
	huma.Get(api, "/items/{id}", func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*got, error) {
		s.mu.RLock()
		it, ok := s.items[in.ID]
		s.mu.RUnlock()
		if !ok || it.Owner != ctx.Value(userKey{}).(string) {
			return nil, huma.Error404NotFound("no such item")
		}
		return &got{Body: it}, nil
	})

	perUser := httprate.Limit(600**scale, time.Minute, httprate.WithKeyFuncs(func(r *http.Request) (string, error) {
		u, _ := r.Context().Value(userKey{}).(string)
		return "user:" + u, nil
	}))
	sec := secure.New(secure.Options{
		STSSeconds: 63072000, STSIncludeSubdomains: true, ContentTypeNosniff: true, FrameDeny: true,
		ReferrerPolicy: "no-referrer", ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
		CrossOriginOpenerPolicy: "same-origin", CrossOriginResourcePolicy: "same-origin",
	})
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var h http.Handler = perUser(mux)
	h = authenticate(key, h)
	h = httprate.LimitByIP(1200**scale, time.Minute)(h)
	h = sec.Handler(h)
	h = accessLog(log, h)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handstack:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	if *insecure {
		fmt.Fprintf(os.Stderr, "token %s\nserving http://%s\n", tok, ln.Addr())
		err = srv.Serve(ln)
	} else {
		fmt.Fprintf(os.Stderr, "token %s\nserving https://%s\n", tok, ln.Addr())
		err = srv.ServeTLS(ln, *cert, *keyFile)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "handstack:", err)
		os.Exit(1)
	}
}
