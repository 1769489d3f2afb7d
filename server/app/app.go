package app

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/metrics"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/ratelimit/redisstore"
	"github.com/fortapi/fortapi/secheader"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/token"
	"github.com/fortapi/fortapi/wsfeed"
)

// Labels of the keys derived from the master key (deriveKey): every
// instance sharing the master key derives the same keys, and a new master
// key changes them all.
const (
	// csrfKeyLabel: the key that signs CSRF tokens.
	csrfKeyLabel = "fortapi csrf token key v1"
	// refreshKeyLabel: authn.Options.RefreshKey, so that every instance
	// derives the same refresh successors (one chain).
	refreshKeyLabel = "fortapi refresh successor key v1"
	// deviceKeyLabel: authn.Options.DeviceKey, so that every instance
	// trusts the same login devices.
	deviceKeyLabel = "fortapi device credential key v1"
	// apiKeyLabel: authn.Options.APIKeyHashKey, the HMAC key API keys
	// are stored under, so that every instance verifies every key.
	apiKeyLabel = "fortapi api key hash key v1"
)

// deriveKey is HMAC-SHA256(master, label): a 32-byte key for one purpose.
func deriveKey(master []byte, label string) []byte {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// scopeDocs describes every scope the server grants, for the OpenAPI
// document's OAuth2 flow.
func scopeDocs() map[string]string {
	return map[string]string{
		server.ScopeItemsRead:  "read your items",
		server.ScopeItemsWrite: "create, change and delete your items",
		server.ScopeUsersAdmin: "administer users; see every user's items",
		server.ScopeKeysAdmin:  "rotate the token signing keys",
	}
}

// App is the reference server, composed: the store, the key ring, the
// token service, the revocation checker, the password hasher, the
// authentication service and the fortapi API with every route.
type App struct {
	cfg     Config
	store   Store
	redis   *redis.Client // nil: limits in memory
	ring    *jwtkey.Ring
	tokens  *token.Service
	revs    *token.Revocations
	hasher  *password.Hasher
	auth    *authn.Service
	oidc    *oidc.Set    // external identity providers (nil: none)
	feed    *wsfeed.Feed // GET /ws/items
	api     *fortapi.API
	handler http.Handler

	// closers close what New opened, in reverse order (Close).
	closers []closer
	// fanOut runs deliverItems on PostgreSQL (stopped by stop); resynced
	// is the listener Generation whose Gap deliverItems has handled.
	fanOut   sync.WaitGroup
	resynced atomic.Uint64

	// Run's background work stops when Close cancels stop, and Close
	// waits for it (running). mu guards closing and running.Add.
	stop    context.CancelFunc
	stopCtx context.Context
	mu      sync.Mutex
	closing bool
	running sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

type closer struct {
	name  string
	close func() error
}

// New builds the server from cfg: it opens the store, connects to Redis
// (an unreachable Redis does not stop it: the limits apply
// Limits.OnRedisError until it answers), opens the key ring, replays the
// revocation log, and registers every route. When a step fails, what the
// earlier steps opened is closed again. ctx bounds the start only.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if cfg.Metrics != nil {
		if cfg.sec, err = metrics.NewSecurity(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if cfg.ws, err = metrics.NewWebSocket(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	a := &App{cfg: cfg}
	a.stopCtx, a.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	if a.store, err = OpenStore(ctx, cfg.Store, log, cfg.Now); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closer{"store", a.store.Close})
	// On PostgreSQL, several instances share the store: revocations and
	// key changes are pushed to each of them (LISTEN/NOTIFY), the log
	// staying the source of truth (authn.Options.Feed), and so are item
	// changes, for the WebSocket feed (deliverItems).
	var (
		feed     authn.Feed
		listener *postgres.Listener
	)
	if pg, ok := a.store.(*postgres.Store); ok {
		l, err := pg.Listen(postgres.ListenOptions{Logger: log, Now: cfg.Now, Items: true})
		if err != nil {
			return nil, fmt.Errorf("listening for revocations: %w", err)
		}
		a.closers = append(a.closers, closer{"revocation feed", l.Close})
		feed, listener = l, l
	}

	set, failures, ip, err := a.rateLimits(ctx)
	if err != nil {
		return nil, err
	}

	master := slices.Clone(cfg.MasterKey)
	defer clear(master)
	if a.ring, err = jwtkey.Open(ctx, jwtkey.Options{
		MasterKey: master, Store: a.store, MaxTokenLifetime: cfg.AccessLifetime, Leeway: cfg.Leeway,
		Logger: log, Now: cfg.Now, Rand: cfg.Rand,
	}); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	a.revs = token.NewRevocations(token.RevocationsOptions{MaxTokenAge: cfg.AccessLifetime + cfg.Leeway, Now: cfg.Now})
	to := token.Options{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: a.ring,
		Lifetime: cfg.AccessLifetime, Leeway: cfg.Leeway, Revocations: a.revs, Now: cfg.Now, Rand: cfg.Rand,
	}
	if cfg.sec != nil {
		to.Observer = cfg.sec
	}
	if a.tokens, err = token.New(to); err != nil {
		return nil, err
	}
	if a.hasher, err = password.NewHasher(password.HasherOptions{MaxConcurrent: cfg.LoginConcurrency, Rand: cfg.Rand, InsecureTestParams: cfg.InsecureTestHashes}); err != nil {
		return nil, err
	}
	if a.oidc, err = oidcSet(cfg); err != nil {
		return nil, err
	}
	ao := authn.Options{
		Store: a.store, Hasher: a.hasher, Tokens: a.tokens, Revocations: a.revs, Keys: a.ring,
		AccessLifetime: cfg.AccessLifetime, Leeway: cfg.Leeway,
		RefreshLifetime: cfg.RefreshLifetime, SessionLifetime: cfg.SessionLifetime, RefreshGrace: cfg.RefreshGrace,
		SessionCookie: cfg.SessionCookie, LoginFailures: failures, Feed: feed,
		RefreshKey: deriveKey(master, refreshKeyLabel), DeviceKey: deriveKey(master, deviceKeyLabel),
		APIKeyHashKey: deriveKey(master, apiKeyLabel), ClientIP: ip.ClientIP,
		AuditRetention: cfg.AuditRetention,
		OIDC:           a.oidc, OIDCProvision: cfg.OIDCProvision,
		Logger: log, Now: cfg.Now, Rand: cfg.Rand,
	}
	if cfg.sec != nil {
		ao.Observer = cfg.sec
	}
	if a.auth, err = authn.New(ao); err != nil {
		return nil, err
	}
	if err := a.auth.Sync(ctx); err != nil {
		return nil, err
	}

	tickets, err := newTickets(cfg)
	if err != nil {
		return nil, err
	}
	var available func() error
	if listener != nil {
		// No upgrade while item changes cannot arrive, nor before the
		// sockets of the last connection's gap were told to resync (a
		// socket opened then would be closed with them).
		available = func() error {
			if err := listener.Err(); err != nil {
				return err
			}
			if a.resynced.Load() != listener.Generation() {
				return errResyncing
			}
			return nil
		}
	}
	if a.feed, err = newFeed(cfg, tickets, a.revs, a.ring, available); err != nil {
		return nil, err
	}
	// Closed first (closers run backwards): its sockets get 1001 before
	// the store they were fed from goes.
	a.closers = append(a.closers, closer{"websocket feed", a.feed.Close})
	deps := httpapi.Deps{Store: a.store, Auth: a.auth, Keys: a.ring, Now: cfg.Now, Rand: cfg.Rand, CertExpiry: cfg.CertExpiry,
		Feed: a.feed, Tickets: tickets}
	if listener != nil {
		// Every instance, the writing one included, publishes what the
		// store announces: one path, so no event is delivered twice.
		ctx := a.stopCtx
		a.fanOut.Add(1)
		go func() {
			defer a.fanOut.Done()
			a.deliverItems(ctx, listener.Items())
		}()
		// Stopped before the feed closes (closers run backwards).
		a.closers = append(a.closers, closer{"item fan-out", func() error { a.stop(); a.fanOut.Wait(); return nil }})
	} else {
		// One process (SQLite): the handlers announce their writes.
		deps.Events = a.publish
	}
	if a.oidc != nil {
		deps.OIDCDiscovery = a.oidc.DiscoveryURLs()
	}
	if a.redis != nil {
		deps.Redis = func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }
		deps.RedisRequired = cfg.Limits.OnRedisError == ratelimit.FailClosed
	}
	if a.api, a.handler, err = buildAPI(cfg, deriveKey(master, csrfKeyLabel), a.auth, set, ip, deps); err != nil {
		return nil, err
	}
	if cfg.Metrics != nil {
		if err := metrics.RegisterRateLimits(cfg.Metrics, set); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if err := a.registerMetrics(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return a, nil
}

// newTickets is the store of single-use WebSocket tickets (POST
// /ws/ticket), each valid for wsfeed.MaxTicketTTL (30 s) at most.
func newTickets(cfg Config) (*wsfeed.Tickets, error) {
	return wsfeed.NewTickets(wsfeed.TicketOptions{Now: cfg.Now, Rand: cfg.Rand})
}

// newFeed is the item feed (GET /ws/items): cookie and ticket upgrades
// from the server's own origin or cfg.CORSOrigins only; administrators
// see every item; a socket is closed (4401) within the check interval
// (250 ms) once its credentials no longer hold (stillValid): a logout
// (session), a password or role change or a disable (subject, by iat), a
// revoked token (jti), whether revoked here or replayed from the log
// (authn.Sync), or a revoked signing key (keys). available, when set,
// refuses upgrades (503) while it returns an error: the feed cannot
// deliver then (the item notifications are not listened to).
func newFeed(cfg Config, tickets *wsfeed.Tickets, revs *token.Revocations, keys keyTrust, available func() error) (*wsfeed.Feed, error) {
	o := wsfeed.Options{
		Tickets: tickets, Origins: cfg.CORSOrigins, AllScope: server.ScopeUsersAdmin,
		Revocations: stillValid(revs, keys), Available: available,
		MaxConnsPerSubject: cfg.FeedMaxConnsPerUser,
		Logger:             cfg.Logger, Now: cfg.Now,
	}
	if cfg.ws != nil { // a nil *metrics.WebSocket in the interface would not be nil
		o.Observer = cfg.ws
	}
	f, err := wsfeed.New(o)
	if err != nil {
		return nil, fmt.Errorf("the WebSocket feed: %w", err)
	}
	return f, nil
}

// errResyncing: the feed's sockets are being told to resync.
var errResyncing = errors.New("item notifications resume: the feed's sockets are being told to reconnect")

// errRevoked closes a socket whose credentials were revoked.
var errRevoked = errors.New("the credentials were revoked")

// keyTrust says whether the key kid may still verify tokens
// (jwtkey.Ring.Verifier).
type keyTrust interface {
	Verifier(kid string) (jwtkey.VerifyingKey, bool)
}

// stillValid checks a socket's principal against what access tokens are
// checked against: the revocations (the same subject not-before, by the
// credentials' IssuedAt, unknown counting as revoked when the subject has
// one; session; token id) and, for a token, the key that signed it, which
// must still verify (a revoked key, or a retiring key past its end, does
// not). keys nil: no key check.
func stillValid(revs *token.Revocations, keys keyTrust) wsfeed.RevocationsFunc {
	return func(_ context.Context, p *fortapi.Principal) error {
		if revs.Revoked(&token.Claims{Subject: p.Subject, SessionID: p.SessionID, ID: p.TokenID, IssuedAt: p.IssuedAt}) {
			return errRevoked
		}
		if p.KeyID != "" && keys != nil {
			if _, ok := keys.Verifier(p.KeyID); !ok {
				return errRevoked
			}
		}
		return nil
	}
}

// publish announces an item change on the feed, to the item's owner and
// administrators. With no socket open (upgrading ones count) there is
// nobody to tell: the event is not even encoded. A socket that opens
// while the write commits may miss it either way; one open before the
// write committed is counted.
func (a *App) publish(ev httpapi.ItemEvent) {
	if a.feed.Conns() == 0 {
		return
	}
	if err := a.feed.Publish(wsfeed.Event{Owner: ev.Owner, Message: ev}); err != nil {
		a.cfg.Logger.Error("publishing an item event failed", "type", ev.Type, "error", err.Error())
	}
}

// itemFetchTimeout bounds the read of a changed item (deliverItems).
const itemFetchTimeout = 5 * time.Second

// deliverItems publishes on the feed, in their order, the item changes the
// store announces (on PostgreSQL, from every instance) until ctx ends.
//
// A deletion is published as it is. A creation or an update carries the
// row as the write left it when it is small enough (postgres.ItemChange:
// id, owner, name and description of at most 3400 bytes together), and is
// published exactly so. A larger item comes as a reference: it is read,
// and published as GET /items/{id} shows it then, which is the state the
// write left or a later one (the later write's own event follows), so the
// states a subscriber sees never go backwards; a large item deleted
// before it could be read is not published (its deletion follows). When changes may have
// been lost (a Gap: the listening connection was lost and re-made, or this
// reader fell behind), or an item cannot be read, the sockets that may
// have missed an event are closed with wsfeed.CloseResync: their clients
// reconnect and reload instead of silently missing a change.
func (a *App) deliverItems(ctx context.Context, changes <-chan postgres.ItemChange) {
	log := a.cfg.Logger
	admin := func(p *fortapi.Principal) bool { return p.HasScope(server.ScopeUsersAdmin) }
	for {
		var c postgres.ItemChange
		select {
		case <-ctx.Done():
			return
		case c = <-changes:
		}
		switch {
		case c.Gap:
			if n := a.feed.Resync(nil); n > 0 {
				log.Warn("item changes may have been missed: WebSocket feed sockets told to reconnect and reload",
					"sockets", n, "close_code", int(wsfeed.CloseResync))
			}
			a.resynced.Store(c.Gen)
			continue
		case !a.feed.Subscribed(wsfeed.Event{Owner: c.OwnerID}):
			continue // nobody to tell: no read
		case c.Op == postgres.ItemDeleted:
			a.publish(httpapi.NewItemEvent(httpapi.ItemDeleted, server.Item{ID: c.ID, OwnerID: c.OwnerID}))
			continue
		}
		typ := httpapi.ItemCreated
		if c.Op == postgres.ItemUpdated {
			typ = httpapi.ItemUpdated
		}
		if c.Item != nil { // the row as the write left it
			a.publish(httpapi.NewItemEvent(typ, *c.Item))
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, itemFetchTimeout)
		it, err := a.store.GetItem(fctx, server.Access{All: true}, c.ID)
		cancel()
		switch {
		case errors.Is(err, server.ErrNotFound):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			n := a.feed.Resync(func(p *fortapi.Principal) bool { return p.Subject == c.OwnerID || admin(p) })
			log.Error("reading a changed item for the WebSocket feed failed: its subscribers were told to reconnect and reload",
				"sockets", n, "error", err.Error())
			continue
		}
		a.publish(httpapi.NewItemEvent(typ, it))
	}
}

// rateLimits builds the limits' Set (in memory, or on Redis), the
// failed-login limiter and the client-address resolver.
func (a *App) rateLimits(ctx context.Context) (*ratelimit.Set, *ratelimit.Limiter, *clientip.Resolver, error) {
	cfg, l := a.cfg, a.cfg.Limits
	so := ratelimit.SetOptions{OnError: l.OnRedisError, InstanceCount: l.Instances, Scale: l.Scale, Logger: cfg.Logger, Now: cfg.Now}
	if l.RedisURL != "" {
		o, err := redisstore.ClientOptions(l.RedisURL)
		if err != nil {
			return nil, nil, nil, errors.New("the Redis URL does not parse") // the text would quote the URL
		}
		a.redis = redis.NewClient(o)
		a.closers = append(a.closers, closer{"redis", a.redis.Close})
		so.Store = redisstore.New(a.redis, redisstore.Options{Prefix: l.RedisPrefix})
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		perr := a.redis.Ping(pctx).Err()
		cancel()
		if perr != nil {
			cfg.Logger.Error("Redis is unreachable at start-up; rate limits apply their outage policy until it answers",
				"redis", o.Addr, "policy", l.OnRedisError.String(), "error", perr.Error())
		}
	}
	set, err := ratelimit.NewSet(so)
	if err != nil {
		return nil, nil, nil, err
	}
	ip, err := clientip.New(clientip.Options{TrustedProxies: cfg.TrustedProxies, Header: cfg.ClientIPHeader})
	if err != nil {
		return nil, nil, nil, err
	}
	failures, err := ratelimit.New(ratelimit.Options{Name: "login-failures", Spec: l.LoginFailures, Set: set})
	if err != nil {
		return nil, nil, nil, err
	}
	return set, failures, ip, nil
}

// buildAPI creates the fortapi API from cfg and registers every route of
// httpapi on it. auth is nil when the API is built only for its document.
func buildAPI(cfg Config, csrfKey []byte, auth *authn.Service, set *ratelimit.Set, ip *clientip.Resolver, deps httpapi.Deps) (*fortapi.API, http.Handler, error) {
	co := csrf.Options{Key: csrfKey, TrustedOrigins: cfg.CORSOrigins}
	if cfg.sec != nil {
		co.Observer = cfg.sec
	}
	protector, err := csrf.New(co)
	if err != nil {
		return nil, nil, fmt.Errorf("CORS origins: %w", err)
	}
	headers, err := secheader.New(secheader.Options{AssumeTLS: cfg.AssumeTLS})
	if err != nil {
		return nil, nil, err
	}
	var cors *secheader.CORS
	if len(cfg.CORSOrigins) > 0 {
		cop := secheader.CORSOptions{AllowedOrigins: cfg.CORSOrigins, AllowCredentials: true}
		if cfg.sec != nil {
			cop.Observer = cfg.sec
		}
		if cors, err = secheader.NewCORS(cop); err != nil {
			return nil, nil, fmt.Errorf("CORS origins: %w", err)
		}
		cfg.Logger.Warn("cross-origin access allowed, with credentials (--cors-origins): scripts of these origins act with users' cookies",
			"origins", strings.Join(cfg.CORSOrigins, ","))
	}
	o := fortapi.Options{
		// One cookie name, cfg.SessionCookie: the one the login service
		// sets and reads, and CSRF tokens are bound to.
		Session:          &fortapi.SessionCookie{Name: cfg.SessionCookie, LoginURL: "/login"},
		DocsCSRFTokenURL: "/csrftoken/",
		CSRF:             protector,
		Headers:          headers,
		CORS:             cors,
		Title:            "fortapi",
		Version:          cfg.Version,
		Description:      "The fortapi reference server: a secure items API. Log in with POST /token (OAuth2 password grant).",
		Logger:           cfg.Logger,
		OAuth2:           &fortapi.OAuth2Password{TokenURL: "/token", Scopes: scopeDocs()},
		RateLimits:       set,
		ClientIP:         ip,
		GlobalLimit:      cfg.Limits.Global.String(),
		Metrics:          cfg.Metrics,
		Now:              cfg.Now,
		Rand:             cfg.Rand,
	}
	if auth != nil {
		o.Authenticator = auth
	}
	api := fortapi.New(o)
	deps.Limits = cfg.Limits.operations()
	httpapi.Register(api, deps)
	h, err := api.Handler()
	if err != nil {
		return nil, nil, err
	}
	// A key in a URL is refused before anything routes or logs it;
	// browsers get HTML error pages, API clients keep problem+json.
	return api, apikey.RefuseInURL(httpapi.HTMLErrors(api, h)), nil
}

// Document is the OpenAPI document of the server cfg describes, built
// without a store or keys (cfg.Store and cfg.MasterKey are ignored).
func Document(cfg Config) ([]byte, error) {
	cfg.Store = StoreConfig{SQLitePath: "unused"}
	cfg.MasterKey = make([]byte, jwtkey.MasterKeySize)
	cfg.Metrics, cfg.sec, cfg.ws = nil, nil, nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	csrfKey := make([]byte, 32) // the document does not depend on it
	if _, err := io.ReadFull(cmp.Or[io.Reader](cfg.Rand, rand.Reader), csrfKey); err != nil {
		return nil, err
	}
	// The feed's routes are declared as the server declares them.
	tickets, err := newTickets(cfg)
	if err != nil {
		return nil, err
	}
	feed, err := newFeed(cfg, tickets, token.NewRevocations(token.RevocationsOptions{}), nil, nil)
	if err != nil {
		return nil, err
	}
	defer feed.Close()
	deps := httpapi.Deps{Feed: feed, Tickets: tickets}
	set, err := oidcSet(cfg)
	if err != nil {
		return nil, err
	}
	if set != nil {
		deps.OIDCDiscovery = set.DiscoveryURLs()
	}
	api, _, err := buildAPI(cfg, csrfKey, nil, nil, nil, deps)
	if err != nil {
		return nil, err
	}
	return api.OpenAPIJSON()
}

// Handler is the server's http.Handler, every middleware in place.
func (a *App) Handler() http.Handler { return a.handler }

// API is the fortapi API the routes are registered on.
func (a *App) API() *fortapi.API { return a.api }

// Store is the store the server keeps its data in.
func (a *App) Store() Store { return a.store }

// Auth is the authentication service: logins, users, keys.
func (a *App) Auth() *authn.Service { return a.auth }

// Keys is the signing key ring.
func (a *App) Keys() *jwtkey.Ring { return a.ring }

// Run does the server's background work until ctx ends or Close is
// called: it keeps revocations and the key ring in step with the store
// and prunes what expired (authn.Service.Run).
func (a *App) Run(ctx context.Context) {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return
	}
	a.running.Add(1)
	a.mu.Unlock()
	defer a.running.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.stopCtx, cancel)
	defer stop()
	var warm sync.WaitGroup
	if a.oidc != nil {
		// Fetch each provider's keys now, so that a wrong issuer shows in
		// the log at start-up rather than at the first token.
		for _, p := range a.oidc.Providers() {
			warm.Go(func() {
				if err := p.Refresh(ctx); err != nil {
					a.cfg.Logger.Warn("the external identity provider's keys cannot be fetched yet; its tokens are refused (503) until they can",
						"issuer", p.Issuer(), "error", err)
				} else {
					a.cfg.Logger.Info("external identity provider ready", "issuer", p.Issuer())
				}
			})
		}
	}
	a.auth.Run(ctx)
	warm.Wait()
}

// Close stops Run, waits for it, and closes what New opened in reverse
// order: the WebSocket feed (its sockets get 1001), the Redis client,
// then the store. It is safe to call more than
// once; later calls return the first call's result.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closing = true
		a.mu.Unlock()
		a.stop()
		a.running.Wait()
		var errs []error
		for _, c := range slices.Backward(a.closers) {
			if a.cfg.onClose != nil {
				a.cfg.onClose(c.name)
			}
			if err := c.close(); err != nil {
				errs = append(errs, fmt.Errorf("closing the %s: %w", c.name, err))
			}
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}
