package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// testConfig is a Config on a fresh SQLite file, with cheap password
// hashes (no test of the package is about their cost).
func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Store:              StoreConfig{SQLitePath: filepath.Join(t.TempDir(), "app.db")},
		MasterKey:          randomKey(t),
		Logger:             slog.New(slog.DiscardHandler),
		InsecureTestHashes: true,
	}
}

// closeLog records the names Close closes, in order.
type closeLog struct {
	mu    sync.Mutex
	names []string
}

func (c *closeLog) record(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
}

func (c *closeLog) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.names)
}

// unreachableRedis is a Redis URL nothing answers at: the client is made
// (and must be closed), the start-up ping fails at once.
const unreachableRedis = "redis://127.0.0.1:1/0?max_retries=-1&dial_timeout=100ms"

func TestCloseOrder(t *testing.T) {
	t.Parallel()
	var cl closeLog
	cfg := testConfig(t)
	cfg.Limits.RedisURL = unreachableRedis
	cfg.onClose = cl.record
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() { a.Run(ctx); close(ran) }()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if got, want := cl.got(), []string{"websocket feed", "redis", "store"}; !slices.Equal(got, want) {
		t.Errorf("closed %q, want %q (reverse order of opening)", got, want)
	}
	if err := a.Store().Ping(context.Background()); err == nil {
		t.Error("the store answers after Close")
	}
	if err := a.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	a.Run(context.Background()) // returns at once after Close
}

// TestNewFailureClosesWhatItOpened: a step that fails closes what the
// steps before it opened, in reverse order, and nothing else.
func TestNewFailureClosesWhatItOpened(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		change func(*Config)
		closed []string
	}{
		{"bad Redis URL, after the store", func(c *Config) { c.Limits.RedisURL = "redis://:x@[::1" }, []string{"store"}},
		{"bad CORS origin, after Redis", func(c *Config) {
			c.Limits.RedisURL = unreachableRedis
			c.CORSOrigins = []string{"not an origin"}
		}, []string{"redis", "store"}},
		{"no master key, before anything", func(c *Config) { c.MasterKey = nil }, nil},
		{"store cannot open", func(c *Config) { c.Store.SQLitePath = filepath.Join(t.TempDir(), "missing", "dir", "x.db") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cl closeLog
			cfg := testConfig(t)
			tt.change(&cfg)
			cfg.onClose = cl.record
			a, err := New(context.Background(), cfg)
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
			if got := cl.got(); !slices.Equal(got, tt.closed) {
				t.Errorf("closed %q, want %q", got, tt.closed)
			}
			if strings.Contains(err.Error(), ":x@") {
				t.Errorf("the error quotes the Redis URL: %v", err)
			}
		})
	}
}

// TestSettingsStatedOnce: the access-token lifetime of Config is the one
// the token answer, the key ring and the token carry; the session cookie
// name is the one the login service sets and the API documents.
func TestSettingsStatedOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AccessLifetime = 7 * time.Minute
	cfg.SessionCookie = "__Host-test-session"
	cfg.Issuer, cfg.Audience = "issuer-x", "audience-y"
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	const pw = "a long enough test passphrase"
	if _, err := a.Auth().CreateUser(ctx, "alice", pw, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.Handler())
	defer srv.Close()
	resp, err := srv.Client().PostForm(srv.URL+"/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /token: %d %v", resp.StatusCode, err)
	}
	if tok.ExpiresIn != 7*60 {
		t.Errorf("expires_in %d, want %d", tok.ExpiresIn, 7*60)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /users/me with the token: %d", resp.StatusCode)
	}
	if got := a.Auth().CookieName(); got != cfg.SessionCookie {
		t.Errorf("the login service sets %q, want %q", got, cfg.SessionCookie)
	}
	if got := a.API().SessionCookie(); got != cfg.SessionCookie {
		t.Errorf("the API reads %q, want %q", got, cfg.SessionCookie)
	}
	doc, err := a.API().OpenAPIJSON()
	if err != nil || !bytes.Contains(doc, []byte(`"name":"`+cfg.SessionCookie+`"`)) {
		t.Errorf("the document does not name the cookie %q (%v)", cfg.SessionCookie, err)
	}
}

// TestInstancesShareOneRefreshChain: two instances on one store with one
// master key derive the same refresh key, so concurrent refreshes of one
// token that land on different instances get the same successor (one
// chain), and the refresh key is neither the master key nor the CSRF key.
func TestInstancesShareOneRefreshChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	instance := func() *App {
		a, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	a, b := instance(), instance()

	refreshKey := deriveKey(cfg.MasterKey, refreshKeyLabel)
	if len(refreshKey) < authn.MinRefreshKeyBytes || bytes.Equal(refreshKey, deriveKey(cfg.MasterKey, csrfKeyLabel)) ||
		bytes.Equal(refreshKey, cfg.MasterKey) || bytes.Equal(refreshKey, deriveKey(cfg.MasterKey, deviceKeyLabel)) {
		t.Fatal("the refresh key is short, or equals the CSRF key, the device key or the master key")
	}

	const pw = "a long enough test passphrase"
	if _, err := a.Auth().CreateUser(ctx, "shared", pw, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	tr, err := a.Auth().Login(ctx, authn.Login{Username: "shared", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := a.Auth().Refresh(ctx, tr.RefreshToken, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Auth().Refresh(ctx, tr.RefreshToken, nil, "")
	if err != nil {
		t.Fatalf("the concurrent refresh on the other instance: %v", err)
	}
	if ra.RefreshToken != rb.RefreshToken {
		t.Error("two instances answered one token's concurrent refreshes with different successors")
	}
}

func TestDocument(t *testing.T) {
	t.Parallel()
	doc, err := Document(Config{Version: "1.2.3", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Info  struct{ Version string }
		Paths map[string]any
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/token", "/items/", "/readyz", "/login", "/csrftoken/"} {
		if _, ok := d.Paths[p]; !ok {
			t.Errorf("the document lacks %s", p)
		}
	}
	if d.Info.Version != "1.2.3" {
		t.Errorf("version %q", d.Info.Version)
	}
}

func TestMaskURL(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		hasPW    bool
	}{
		{"postgres://app:s3cret@db:5432/fortapi?sslmode=require", "postgres://app:xxxxx@db:5432/fortapi?sslmode=require", true},
		{"postgres://app@db/fortapi", "postgres://app@db/fortapi", false},
		{"postgres://db/fortapi?user=app&password=s3cret", "postgres://db/fortapi?password=xxxxx&user=app", true},
		{"host=db user=app password=s3cret dbname=x", "host=db user=app password=xxxxx dbname=x", true},
		{"host=db user=app password='s3 cret'", "(unparsable URL)", true},
		{"host=db dbname=x", "host=db dbname=x", false},
		{"postgres://app:s3cret@[::1", "(unparsable URL)", true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskURL(tt.in); got != tt.want {
				t.Errorf("MaskURL = %q, want %q", got, tt.want)
			}
			if strings.Contains(MaskURL(tt.in), "s3") {
				t.Error("the password shows")
			}
			if got := HasPassword(tt.in); got != tt.hasPW {
				t.Errorf("HasPassword = %v, want %v", got, tt.hasPW)
			}
		})
	}
}
