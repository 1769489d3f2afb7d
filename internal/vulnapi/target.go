package vulnapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// The seeded principals: two ordinary users and one admin.
const (
	UserAlice     = "alice"
	PasswordAlice = "alice-pass-4821"
	UserBob       = "bob"
	PasswordBob   = "bob-pass-7350"
	UserAdmin     = "admin"
	PasswordAdmin = "admin-pass-9164"
)

// WeakJWTSecret is the HS256 secret the target signs with when
// FlawJWTWeakSecret is on. It is a line of testdata/jwt-secrets.txt.
const WeakJWTSecret = "secret123"

// Token constants: the issuer and audience of the target's access tokens,
// the kid of its ES256 key (published in the JWKS) and of the weak HS256 key.
const (
	Issuer   = "vulnapi"
	Audience = "vulnapi-api"
	KidES256 = "es-1"
	KidHS256 = "hs-1"
)

// User is a principal seeded into the database.
type User struct {
	Username string
	Password string
	Role     string // "user" or "admin"
}

// DefaultUsers returns alice and bob (role user) and admin (role admin).
func DefaultUsers() []User {
	return []User{
		{UserAlice, PasswordAlice, "user"},
		{UserBob, PasswordBob, "user"},
		{UserAdmin, PasswordAdmin, "admin"},
	}
}

// Options configure a Target. The zero value is the clean target with the
// default users.
type Options struct {
	// Flaws to plant; nil or empty is the clean target.
	Flaws Set
	// Users to seed; nil means DefaultUsers. Each ordinary user also gets
	// one item.
	Users []User
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TokenLifetime of access tokens; 0 means 15 minutes. A scanner test
	// may shorten it to see an expired token accepted (FlawJWTExpiredAccepted)
	// without forging one.
	TokenLifetime time.Duration
	// LoginFailures is how many failed logins for one username within
	// LoginWindow are answered before POST /token answers 429; 0 means 5.
	LoginFailures int
	// LoginWindow; 0 means one minute.
	LoginWindow time.Duration
	// MaxBodyBytes is the request body limit (413 above it); 0 means 1 MiB.
	MaxBodyBytes int64
	// Dir holds the SQLite database; "" means a new temporary directory,
	// removed by Close.
	Dir string
	// Logger; nil discards.
	Logger *slog.Logger
	// BcryptCost of the seeded hashes; 0 means bcrypt.MinCost (a test target).
	BcryptCost int
}

// Target is one instance of the vulnerable API.
type Target struct {
	opts      Options
	flaws     Set
	db        *sql.DB
	dir       string
	removeDir bool
	log       *slog.Logger
	now       func() time.Time

	esKey     *ecdsa.PrivateKey
	esPEM     []byte // PKIX public key, PEM with trailing newline
	esDER     []byte // PKIX public key, DER
	dummyHash []byte
	limiter   *loginLimiter
	client    *http.Client // for jku fetches (loopback only)
	page      *template.Template
	handler   http.Handler
}

// New builds a target: database, seeded users and items, keys, handler.
func New(opts Options) (*Target, error) {
	t := &Target{opts: opts, flaws: Set{}}
	for f, on := range opts.Flaws {
		if on {
			t.flaws[f] = true
		}
	}
	known := All()
	for f := range t.flaws {
		if !known[f] {
			return nil, fmt.Errorf("vulnapi: unknown flaw %q", f)
		}
	}
	if t.opts.Users == nil {
		t.opts.Users = DefaultUsers()
	}
	t.now = opts.Now
	if t.now == nil {
		t.now = time.Now
	}
	if t.opts.TokenLifetime <= 0 {
		t.opts.TokenLifetime = 15 * time.Minute
	}
	if t.opts.LoginFailures <= 0 {
		t.opts.LoginFailures = 5
	}
	if t.opts.LoginWindow <= 0 {
		t.opts.LoginWindow = time.Minute
	}
	if t.opts.MaxBodyBytes <= 0 {
		t.opts.MaxBodyBytes = 1 << 20
	}
	if t.opts.BcryptCost == 0 {
		t.opts.BcryptCost = bcrypt.MinCost
	}
	t.log = opts.Logger
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.limiter = newLoginLimiter(t.opts.LoginFailures, t.opts.LoginWindow)
	t.client = &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var err error
	if t.esKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if t.esDER, err = x509.MarshalPKIXPublicKey(&t.esKey.PublicKey); err != nil {
		return nil, err
	}
	t.esPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: t.esDER})
	if t.dummyHash, err = bcrypt.GenerateFromPassword([]byte("dummy password for unknown users"), t.opts.BcryptCost); err != nil {
		return nil, err
	}

	t.dir = opts.Dir
	if t.dir == "" {
		if t.dir, err = os.MkdirTemp("", "vulnapi-"); err != nil {
			return nil, err
		}
		t.removeDir = true
	}
	if err := t.openDB(); err != nil {
		t.Close()
		return nil, err
	}
	if t.page, err = template.New("page").Parse(pageHTML); err != nil {
		t.Close()
		return nil, err
	}
	t.handler = t.routes()
	return t, nil
}

// Flaws returns a copy of the planted flaws.
func (t *Target) Flaws() Set {
	s := Set{}
	for f := range t.flaws {
		s[f] = true
	}
	return s
}

// Users returns the seeded principals with their passwords.
func (t *Target) Users() []User { return append([]User(nil), t.opts.Users...) }

// Handler returns the API. Transport flaws need Serve; every other flaw is
// in the handler. HSTS is sent on requests that arrived over TLS.
func (t *Target) Handler() http.Handler { return t.handler }

// Close closes the database and removes the temporary directory.
func (t *Target) Close() error {
	var err error
	if t.db != nil {
		err = t.db.Close()
	}
	if t.removeDir {
		err = errors.Join(err, os.RemoveAll(t.dir))
	}
	return err
}

func (t *Target) openDB() error {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(t.dir, "vulnapi.db"))}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	u.RawQuery = q.Encode()
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	t.db = db
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, role TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', price REAL NOT NULL, tax REAL)`,
		`CREATE TABLE IF NOT EXISTS jwt_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, key TEXT NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(t.dir, "keys"), 0o700); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO jwt_keys (kid, alg, key) VALUES (?, 'ES256', ?)`, KidES256, string(t.esPEM)); err != nil {
		return err
	}
	if t.flaws.Has(FlawJWTWeakSecret) {
		if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO jwt_keys (kid, alg, key) VALUES (?, 'HS256', ?)`, KidHS256, WeakJWTSecret); err != nil {
			return err
		}
	}
	for _, u := range t.opts.Users {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username = ?`, u.Username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		h, err := bcrypt.GenerateFromPassword([]byte(u.Password), t.opts.BcryptCost)
		if err != nil {
			return err
		}
		res, err := db.ExecContext(ctx, `INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?)`, u.Username, string(h), u.Role)
		if err != nil {
			return err
		}
		if u.Role != "admin" {
			id, _ := res.LastInsertId()
			if _, err := db.ExecContext(ctx, `INSERT INTO items (owner_id, name, description, price, tax) VALUES (?, ?, ?, 10, 1)`,
				id, u.Username+"'s notebook", "seeded item of "+u.Username); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- responses ----

type problemBody struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []fieldError `json:"errors,omitempty"`
	Stack  string       `json:"stack,omitempty"`
	File   string       `json:"file,omitempty"`
}

type fieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (t *Target) problem(w http.ResponseWriter, status int, detail string, errs ...fieldError) {
	p := problemBody{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
	if t.flaws.Has(FlawVerboseErrors) {
		p.Stack = string(debug.Stack())
		if exe, err := os.Executable(); err == nil {
			p.File = exe
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- middleware ----

func (t *Target) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				t.log.Error("panic", "value", fmt.Sprint(v))
				t.problem(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (t *Target) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !t.flaws.Has(FlawNosniffMissing) {
			h.Set("X-Content-Type-Options", "nosniff")
		}
		if !t.flaws.Has(FlawFramingMissing) {
			h.Set("X-Frame-Options", "DENY")
		}
		if !t.flaws.Has(FlawCSPMissing) {
			csp := "default-src 'none'; base-uri 'none'; form-action 'self'"
			if !t.flaws.Has(FlawFramingMissing) {
				csp += "; frame-ancestors 'none'"
			}
			h.Set("Content-Security-Policy", csp)
		}
		if r.TLS != nil && !t.flaws.Has(FlawHSTSMissing) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if t.flaws.Has(FlawServerBanner) {
			h.Set("Server", "vulnapi/0.9.1 (Ubuntu)")
			h.Set("X-Powered-By", "Go/1.19.4")
		}
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (t *Target) bodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !t.flaws.Has(FlawBodyOversized) && r.Body != nil {
			if r.ContentLength > t.opts.MaxBodyBytes {
				w.Header().Set("Connection", "close")
				t.problem(w, http.StatusRequestEntityTooLarge, "the request body is too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, t.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// readBody reads the whole request body; it writes 413 and returns false
// when the limit is crossed.
func (t *Target) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			t.problem(w, http.StatusRequestEntityTooLarge, "the request body is too large")
		} else {
			t.problem(w, http.StatusBadRequest, "could not read the request body")
		}
		return nil, false
	}
	return b, true
}

// cors plants the per-operation CORS flaws. The clean target sends no CORS
// headers at all (no cross-origin caller is allowed).
func (t *Target) cors(flaw Flaw, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.flaws.Has(flaw) {
			origin := r.Header.Get("Origin")
			h := w.Header()
			switch flaw {
			case FlawCORSReflect:
				// "allow any web origin": reflects every origin with a host, not "null".
				if u, err := url.Parse(origin); err == nil && u.Host != "" {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
					h.Add("Vary", "Origin")
				}
			case FlawCORSNull:
				// "allow local files": only the null origin.
				if origin == "null" {
					h.Set("Access-Control-Allow-Origin", "null")
					h.Set("Access-Control-Allow-Credentials", "true")
					h.Add("Vary", "Origin")
				}
			case FlawCORSWildcard:
				h.Set("Access-Control-Allow-Origin", "*")
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			if r.Method == http.MethodOptions {
				if h.Get("Access-Control-Allow-Origin") != "" {
					h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
					h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next(w, r)
	}
}

// ---- login rate limit ----

type loginLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	m      map[string]*failures
}

type failures struct {
	count int
	start time.Time
}

const maxLimiterKeys = 10000

func newLoginLimiter(limit int, window time.Duration) *loginLimiter {
	return &loginLimiter{limit: limit, window: window, m: map[string]*failures{}}
}

// blocked reports whether key is throttled, and for how long.
func (l *loginLimiter) blocked(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil {
		return 0, false
	}
	if now.Sub(f.start) >= l.window {
		delete(l.m, key)
		return 0, false
	}
	if f.count >= l.limit {
		return l.window - now.Sub(f.start), true
	}
	return 0, false
}

func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil || now.Sub(f.start) >= l.window {
		if len(l.m) >= maxLimiterKeys {
			for k, v := range l.m {
				if now.Sub(v.start) >= l.window {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxLimiterKeys {
				clear(l.m) // bounded memory beats exactness in a test target
			}
		}
		f = &failures{start: now}
		l.m[key] = f
	}
	f.count++
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

func canonicalUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
