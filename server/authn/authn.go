package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/token"
)

// Defaults of Options.
const (
	DefaultRefreshLifetime = 14 * 24 * time.Hour
	DefaultSessionLifetime = 30 * 24 * time.Hour
	DefaultRefreshGrace    = 10 * time.Second
	DefaultSyncEvery       = 250 * time.Millisecond
	DefaultKeysEvery       = 2 * time.Second
	DefaultPruneEvery      = time.Hour
	// Web sessions (WebLogin): the absolute end, the idle timeout, and how
	// often a use is recorded (LastSeenAt).
	DefaultWebLifetime = 12 * time.Hour
	DefaultWebIdle     = 30 * time.Minute
	DefaultWebTouch    = time.Minute
	// MaxUsernameBytes is the longest username accepted (in its
	// canonical form, server.CanonicalUsername).
	MaxUsernameBytes = server.MaxUsernameBytes
	// MinRefreshKeyBytes is the shortest Options.RefreshKey accepted.
	MinRefreshKeyBytes = 32
)

// refreshSuccessorLabel prefixes a refresh token in the HMAC that derives
// its successor (Options.RefreshKey).
const refreshSuccessorLabel = "fortapi refresh successor v1"

// Errors of the login paths. The HTTP layer maps them to RFC 6749 errors;
// none says which check failed.
var (
	// ErrInvalidGrant: wrong username or password, unknown, expired,
	// revoked or reused refresh token, disabled user.
	ErrInvalidGrant = errors.New("authn: invalid grant")
	// ErrInvalidScope: a scope was asked for that the user's role (or the
	// session) does not grant.
	ErrInvalidScope = errors.New("authn: invalid scope")
	// ErrWrongPassword: the current password given to ChangePassword is
	// wrong.
	ErrWrongPassword = errors.New("authn: the current password is wrong")
)

// ThrottledError says the account must wait before its next login attempt.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("authn: too many failed logins for this account; retry in %v", e.RetryAfter.Round(time.Second))
}

// FailureLimiter bounds failed password checks per username: Options.
// LoginFailures. A *ratelimit.Limiter with a spec such as "5/minute"
// implements it, in memory or on Redis (then the bound holds across every
// instance, unlike the in-memory throttle). Only failures of untrusted
// logins count (those without a valid device credential, see
// ThrottleOptions): the Service peeks (Peek) before checking the password
// of an untrusted login and refuses the attempt when no failure is left,
// and takes one (Check) after its failure; trusted logins neither peek
// nor count, so they are never refused by it. Keys are "username:" and
// the canonical username (throttleKey), whether or not it exists.
type FailureLimiter interface {
	Peek(ctx context.Context, key string) (ratelimit.Result, error)
	Check(ctx context.Context, key string) (ratelimit.Result, error)
}

// UnavailableError says a password attempt was refused without being
// checked because Options.LoginFailures could not be consulted (its store
// is unreachable and it fails closed). The HTTP layer answers 503 with
// Retry-After.
type UnavailableError struct{ RetryAfter time.Duration }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("authn: the failed-login limit cannot be checked; retry in %v", e.RetryAfter.Round(time.Second))
}

// Options configure New.
type Options struct {
	Store       server.AuthStore   // required
	Hasher      *password.Hasher   // required
	Policy      *password.Policy   // default password.DefaultPolicy()
	Tokens      *token.Service     // required
	Revocations *token.Revocations // required: the checker Tokens consults
	Keys        *jwtkey.Ring       // required
	// RefreshKey (required, at least MinRefreshKeyBytes of secret
	// randomness, the same on every instance of one store) derives a
	// refresh token's successor from the token: HMAC-SHA256(RefreshKey,
	// "fortapi refresh successor v1" || token). Every presentation of one
	// token asks for the same successor, so a replay within RefreshGrace
	// is answered with the successor already stored, never a second
	// chain, and whichever of two holders uses it second is detected.
	// Changing it only makes replays in flight at that moment count as
	// reuse (fail closed).
	RefreshKey []byte
	// AccessLifetime and Leeway are those of Tokens; revocations are kept
	// until every token they refuse has expired (defaults 15m and 30s).
	AccessLifetime, Leeway time.Duration
	// RefreshLifetime is how long an unused refresh token lives (default
	// 14 days); SessionLifetime is the absolute end of a login (default 30
	// days); RefreshGrace is how long a rotated refresh token is still
	// answered, with the same successor, for concurrent refreshes
	// (default 10s).
	RefreshLifetime, SessionLifetime, RefreshGrace time.Duration
	Throttle                                       ThrottleOptions
	// LoginFailures, when set, also bounds failed password checks per
	// username (untrusted logins and ChangePassword), next to the
	// throttle: such an attempt is refused with a *ThrottledError while
	// the username has no failure left. Logins with a valid device
	// credential are not counted nor refused by it. Nil (the default):
	// only the throttle applies.
	// Concurrent attempts that all peek before any fails can exceed it by
	// at most the number of attempts in flight, which the bounded password
	// hasher caps.
	LoginFailures FailureLimiter
	// DeviceKey signs device credentials (see device.go): at least
	// MinDeviceKeyBytes of secret key, the same on every instance so that
	// a credential from one is trusted by all. Nil (the default): a random
	// key for this process only, so credentials are trusted until it
	// restarts. DeviceLifetime is how long a credential is trusted
	// (default DefaultDeviceLifetime, a year).
	DeviceKey      []byte
	DeviceLifetime time.Duration
	// SyncEvery is how often the revocation log is replayed from the store
	// (default 250ms): a revocation made by another process (the CLI)
	// takes effect within it. With a Feed it is the rate while the feed
	// is down (see Feed). KeysEvery is how often the key ring is
	// reloaded and maintained (default 2s). PruneEvery is how often
	// expired sessions, refresh tokens and revocation-log rows are deleted
	// from the store (default 1h).
	SyncEvery, KeysEvery, PruneEvery time.Duration
	// Feed, when set, pushes wake-ups when the store's revocation log or
	// keys change (server/postgres's Listener): Run replays the log (or
	// reloads the keys) at once on each, polls only every FeedSyncEvery
	// (default 5s) while the feed is healthy, and every SyncEvery while it
	// is not. PropagationBound (default 1s) is how long the feed may be
	// down before PropagationHealth reports it. Nil (SQLite, the CLI):
	// polling every SyncEvery. See feed.go.
	Feed                            Feed
	FeedSyncEvery, PropagationBound time.Duration
	// WebLifetime is the absolute end of a web session (default
	// DefaultWebLifetime), WebIdle how long an unused one lives (default
	// DefaultWebIdle), WebTouch how often a use is written to the store
	// (default DefaultWebTouch, below WebIdle). SessionCookie is the
	// cookie's name (default fortapi.DefaultSessionCookie).
	WebLifetime, WebIdle, WebTouch time.Duration
	SessionCookie                  string
	Logger                         *slog.Logger     // default slog.Default()
	Now                            func() time.Time // default time.Now
	Rand                           io.Reader        // default crypto/rand
}

// Service runs logins, refreshes, logouts and account changes, and
// authenticates requests for the fortapi package.
type Service struct {
	o        Options
	throttle *throttle

	syncMu  sync.Mutex
	lastSeq int64

	// health is what PropagationHealth reports (feed.go).
	health propagation

	// names caches user id -> username for messages on hot paths;
	// usernames never change. Bounded: cleared when full.
	namesMu sync.RWMutex
	names   map[string]string
}

// maxCachedNames bounds the username cache.
const maxCachedNames = 10_000

// New checks opts and returns a Service. Call Sync once before serving and
// Run in the background.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Hasher == nil || o.Tokens == nil || o.Revocations == nil || o.Keys == nil {
		return nil, errors.New("authn: Store, Hasher, Tokens, Revocations and Keys are required")
	}
	if len(o.RefreshKey) < MinRefreshKeyBytes {
		return nil, fmt.Errorf("authn: RefreshKey is %d bytes, want at least %d", len(o.RefreshKey), MinRefreshKeyBytes)
	}
	o.RefreshKey = slices.Clone(o.RefreshKey)
	if o.Policy == nil {
		o.Policy = password.DefaultPolicy()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.AccessLifetime, 15*time.Minute)
	def(&o.Leeway, 30*time.Second)
	def(&o.RefreshLifetime, DefaultRefreshLifetime)
	def(&o.SessionLifetime, DefaultSessionLifetime)
	def(&o.RefreshGrace, DefaultRefreshGrace)
	def(&o.SyncEvery, DefaultSyncEvery)
	def(&o.KeysEvery, DefaultKeysEvery)
	def(&o.PruneEvery, DefaultPruneEvery)
	def(&o.FeedSyncEvery, DefaultFeedSyncEvery)
	def(&o.PropagationBound, DefaultPropagationBound)
	def(&o.WebLifetime, DefaultWebLifetime)
	def(&o.WebIdle, DefaultWebIdle)
	def(&o.WebTouch, DefaultWebTouch)
	def(&o.DeviceLifetime, DefaultDeviceLifetime)
	if o.WebTouch >= o.WebIdle {
		return nil, errors.New("authn: WebTouch must be shorter than WebIdle")
	}
	if o.SessionCookie == "" {
		o.SessionCookie = fortapi.DefaultSessionCookie
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	switch {
	case o.DeviceKey == nil:
		o.DeviceKey = make([]byte, MinDeviceKeyBytes)
		if _, err := io.ReadFull(o.Rand, o.DeviceKey); err != nil {
			return nil, fmt.Errorf("authn: generating a device key: %w", err)
		}
	case len(o.DeviceKey) < MinDeviceKeyBytes:
		return nil, fmt.Errorf("authn: DeviceKey must be at least %d bytes", MinDeviceKeyBytes)
	default:
		o.DeviceKey = slices.Clone(o.DeviceKey)
	}
	return &Service{o: o, throttle: newThrottle(o.Throttle), names: make(map[string]string)}, nil
}

// Tokens is what a successful login or refresh returns.
type Tokens struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	Scopes       []string
	// DeviceToken is a fresh device credential for the account (a
	// password login only; "" for a refresh): presented as Login.Device
	// at later logins, it exempts them from failures made elsewhere.
	DeviceToken string
}

// Login is the input of Login.
type Login struct {
	Username, Password string
	// Scopes narrows the grant; nil asks for everything the role grants.
	Scopes   []string
	ClientIP string
	// Device is the device credential the client presents (POST /token's
	// device_token, the __Host-device cookie); "" for none. One that is
	// malformed, forged, expired, locked out or for another account is
	// ignored: the login is then untrusted (see ThrottleOptions).
	Device string
}

// throttleKey is the account a login attempt counts against, for the
// throttle and Options.LoginFailures alike: the canonical username
// (server.CanonicalUsername), so every spelling of one account (ADMIN,
// ａｄｍｉｎ) shares its bucket and two accounts never do. A name without a
// canonical form, which no account can have, gets a key of its own that
// starts with a space, which no canonical name holds; it is cut to
// maxRawKeyBytes.
func throttleKey(username string) string {
	if c, err := server.CanonicalUsername(username); err == nil {
		return c
	}
	if len(username) > maxRawKeyBytes {
		username = username[:maxRawKeyBytes]
	}
	return " " + username
}

// maxRawKeyBytes bounds the key of a name without a canonical form.
const maxRawKeyBytes = 4 * MaxUsernameBytes

// ValidUsername returns nil when s can be a username (it has a canonical
// form, server.CanonicalUsername), else a *server.UsernameError saying
// why not.
func ValidUsername(s string) error {
	_, err := server.CanonicalUsername(s)
	return err
}

// logName is a username as it may appear in the audit log: its canonical
// form when it has one, else the name with every invalid byte, control,
// bidirectional control and invisible character escaped
// (server.EscapeUsername: a right-to-left override shows as \u202e), cut
// to at most MaxUsernameBytes bytes between two characters.
func logName(s string) string {
	if c, err := server.CanonicalUsername(s); err == nil {
		return c
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		piece := server.EscapeUsername(s[i : i+n])
		if b.Len()+len(piece) > MaxUsernameBytes {
			break
		}
		b.WriteString(piece)
		i += n
	}
	return b.String()
}

// Login checks a username and password (RFC 6749 §4.3) and starts a
// session. Unknown users are verified against a dummy hash, so they cost
// the same time and get the same ErrInvalidGrant as a wrong password.
func (s *Service) Login(ctx context.Context, in Login) (Tokens, error) {
	user, scopes, err := s.checkLogin(ctx, in)
	if err != nil {
		return Tokens{}, err
	}
	dev, _, err := s.newDevice(in.Username)
	if err != nil {
		return Tokens{}, err
	}
	t, err := s.startSession(ctx, user, scopes, in.ClientIP)
	if err != nil {
		return Tokens{}, err
	}
	t.DeviceToken = dev
	return t, nil
}

// newDevice returns a fresh device credential for the username and when
// it stops being trusted.
func (s *Service) newDevice(username string) (string, time.Time, error) {
	now := s.o.Now()
	cred, err := newDevice(s.o.DeviceKey, s.o.Rand, throttleKey(username), now)
	return cred, time.Unix(now.Unix(), 0).Add(s.o.DeviceLifetime), err
}

// checkLogin is the part of a login that both Login and WebLogin run: the
// throttle, the failure limit, the password (or the dummy hash), the
// scopes, the re-hash. It returns the user and the granted scopes.
func (s *Service) checkLogin(ctx context.Context, in Login) (server.User, []string, error) {
	now := s.o.Now()
	key := throttleKey(in.Username)
	// A valid device credential for this account that is not locked out
	// makes the attempt trusted: only its own failures count (see
	// ThrottleOptions). Checking it costs the same whether or not the
	// account exists.
	dev, trusted := verifyDevice(s.o.DeviceKey, in.Device, key, now, s.o.DeviceLifetime)
	trusted = trusted && s.throttle.devices.trusted(dev, now)
	network := clientNetwork(in.ClientIP)
	if !trusted {
		if d := s.throttle.untrustedWait(key, network, now); d > 0 {
			return server.User{}, nil, &ThrottledError{RetryAfter: d}
		}
		if err := s.failuresLeft(ctx, key); err != nil {
			return server.User{}, nil, err
		}
	}
	// Any spelling with the account's canonical form finds it; a name
	// without one is an unknown user: the dummy hash, the same answer.
	var user server.User
	name, err := server.CanonicalUsername(in.Username)
	if err != nil {
		err = server.ErrNotFound
	} else {
		user, err = s.o.Store.GetUserByName(ctx, name)
	}
	var ok bool
	switch {
	case errors.Is(err, server.ErrNotFound):
		err = s.o.Hasher.VerifyDummy(ctx, in.Password)
	case err != nil:
		return server.User{}, nil, fmt.Errorf("authn: login: %w", err)
	default:
		ok, err = s.o.Hasher.Verify(ctx, in.Password, user.PasswordHash)
		if errors.Is(err, password.ErrMalformedHash) {
			// A broken stored hash fails like a wrong password, loudly.
			s.o.Logger.ErrorContext(ctx, "stored password hash is malformed", slog.String("user_id", user.ID))
			ok, err = false, nil
		}
		ok = ok && !user.Disabled
	}
	if err != nil { // the hasher is saturated (503) or ctx ended
		return server.User{}, nil, err
	}
	if !ok {
		if trusted {
			s.throttle.devices.fail(dev, s.o.Now())
		} else {
			s.throttle.untrustedFail(key, network, s.o.Now())
			s.failure(ctx, key)
		}
		s.event(ctx, server.Event{Type: server.EventLoginFailure, UserID: user.ID, Username: logName(in.Username), ClientIP: in.ClientIP})
		return server.User{}, nil, ErrInvalidGrant
	}
	if trusted {
		s.throttle.devices.succeed(dev)
	} else {
		s.throttle.untrustedSucceed(key, network)
	}
	granted := user.Role.Scopes()
	scopes := granted
	if in.Scopes != nil {
		if !subset(in.Scopes, granted) {
			return server.User{}, nil, ErrInvalidScope
		}
		scopes = dedupe(in.Scopes)
	}
	if s.o.Hasher.NeedsRehash(user.PasswordHash) {
		s.rehash(ctx, user, in.Password)
	}
	return user, scopes, nil
}

// failuresLeft consults Options.LoginFailures before a password check: nil
// when the account (throttleKey) may try, a *ThrottledError when it has no
// failure left, an *UnavailableError when the limit cannot be checked.
func (s *Service) failuresLeft(ctx context.Context, key string) error {
	l := s.o.LoginFailures
	if l == nil {
		return nil
	}
	res, err := l.Peek(ctx, "username:"+key)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return &UnavailableError{RetryAfter: max(res.RetryAfter, time.Second)}
	case !res.Allowed:
		return &ThrottledError{RetryAfter: max(res.RetryAfter, time.Second)}
	}
	return nil
}

// failure counts a failed password check against Options.LoginFailures,
// even when the client has gone away meanwhile.
func (s *Service) failure(ctx context.Context, key string) {
	if l := s.o.LoginFailures; l != nil {
		_, _ = l.Check(context.WithoutCancel(ctx), "username:"+key)
	}
}

// rehash upgrades a user's stored hash (bcrypt, or weaker argon2
// parameters) after a successful login. A failure is logged, not fatal.
func (s *Service) rehash(ctx context.Context, u server.User, pw string) {
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err == nil {
		old := u.PasswordHash
		_, err = s.o.Store.UpdateUser(ctx, u.ID, server.UserChange{PasswordHash: &h, IfPasswordHash: &old}, s.o.Now().UTC(),
			server.Event{Type: server.EventPasswordRehash, Detail: "stored hash upgraded to the current algorithm"})
	}
	if err != nil && !errors.Is(err, server.ErrConflict) {
		s.o.Logger.WarnContext(ctx, "re-hashing a password failed", slog.String("user_id", u.ID), slog.Any("error", err))
	}
}

func (s *Service) startSession(ctx context.Context, u server.User, scopes []string, clientIP string) (Tokens, error) {
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	sid, err := s.random(16)
	if err != nil {
		return Tokens{}, err
	}
	refresh, hash, err := s.newRefresh()
	if err != nil {
		return Tokens{}, err
	}
	// The version the login read before checking the password: a password
	// change, disable or role change committed since makes the store
	// refuse the session.
	sess := server.Session{ID: sid, UserID: u.ID, Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(s.o.SessionLifetime),
		CredentialVersion: u.CredentialVersion}
	rt := server.RefreshToken{Hash: hash, SessionID: sid, CreatedAt: now, ExpiresAt: s.refreshExpiry(now, sess.ExpiresAt)}
	ev := server.Event{Type: server.EventLoginSuccess, UserID: u.ID, Username: u.Username, SessionID: sid, ClientIP: clientIP}
	if err := s.o.Store.CreateSession(ctx, sess, rt, ev); err != nil {
		if errors.Is(err, server.ErrConflict) || errors.Is(err, server.ErrNotFound) {
			// Disabled, its password or role changed while this login
			// was checked.
			return Tokens{}, ErrInvalidGrant
		}
		return Tokens{}, fmt.Errorf("authn: creating a session: %w", err)
	}
	return s.issue(u.ID, sid, scopes, refresh)
}

func (s *Service) refreshExpiry(now, sessionEnd time.Time) time.Time {
	return minTime(now.Add(s.o.RefreshLifetime), sessionEnd)
}

func (s *Service) issue(sub, sid string, scopes []string, refresh string) (Tokens, error) {
	at, claims, err := s.o.Tokens.Issue(sub, sid, scopes)
	if err != nil {
		return Tokens{}, fmt.Errorf("authn: issuing an access token: %w", err)
	}
	return Tokens{AccessToken: at, ExpiresIn: claims.ExpiresAt.Sub(claims.IssuedAt), RefreshToken: refresh, Scopes: scopes}, nil
}

// refreshTokenLen is the length of a refresh token: 32 random bytes in
// unpadded base64url.
const refreshTokenLen = 43

// newRefresh returns a new refresh token and the SHA-256 the store keeps.
func (s *Service) newRefresh() (string, []byte, error) {
	tok, err := s.random(32)
	if err != nil {
		return "", nil, err
	}
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

func (s *Service) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("authn: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// successor returns the refresh token that replaces refresh, and the
// SHA-256 the store keeps: HMAC-SHA256(RefreshKey, label || refresh), in
// the form of every refresh token (32 bytes, unpadded base64url). It is
// unpredictable without the key and the same for every presentation of
// refresh.
func (s *Service) successor(refresh string) (string, []byte) {
	mac := hmac.New(sha256.New, s.o.RefreshKey)
	mac.Write([]byte(refreshSuccessorLabel))
	mac.Write([]byte(refresh))
	next := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	h := sha256.Sum256([]byte(next))
	return next, h[:]
}

// Refresh exchanges a refresh token for new tokens (RFC 6749 §6), rotating
// it. The new refresh token is derived from the presented one (successor),
// so a concurrent refresh within RefreshGrace gets the same one: there is
// only ever one chain. A token presented again after the grace, or after
// its successor has itself been used, is a sign of theft: the whole
// session is revoked at once. Access tokens are issued fresh every time.
func (s *Service) Refresh(ctx context.Context, refresh string, scopes []string, clientIP string) (Tokens, error) {
	if len(refresh) != refreshTokenLen {
		return Tokens{}, ErrInvalidGrant
	}
	if _, err := base64.RawURLEncoding.DecodeString(refresh); err != nil {
		return Tokens{}, ErrInvalidGrant
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	next, nextHash := s.successor(refresh)
	h := sha256.Sum256([]byte(refresh))
	res, err := s.o.Store.RotateRefresh(ctx, server.RefreshRequest{
		Hash: h[:],
		// The session check refuses it after the session's absolute end.
		Next:  server.RefreshToken{Hash: nextHash, CreatedAt: now, ExpiresAt: now.Add(s.o.RefreshLifetime)},
		Now:   now,
		Grace: s.o.RefreshGrace,
		Revoke: server.Revocation{Kind: server.RevokeSession, Until: s.revocationUntil(now),
			CreatedAt: now},
		Event: server.Event{Type: server.EventRefreshReuse, ClientIP: clientIP,
			Detail: "a rotated refresh token was presented again; its session is revoked"},
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("authn: refresh: %w", err)
	}
	switch res.Outcome {
	case server.RefreshRotated:
		if res.Replay {
			s.o.Logger.InfoContext(ctx, "refresh token presented again within the grace: answered with its successor",
				slog.String("user_id", res.User.ID), slog.String("session_id", res.Session.ID))
		}
	case server.RefreshReused:
		s.o.Revocations.RevokeSession(res.Session.ID, s.revocationUntil(now))
		s.o.Logger.WarnContext(ctx, "refresh token reuse: session revoked",
			slog.String("user_id", res.User.ID), slog.String("session_id", res.Session.ID))
		return Tokens{}, ErrInvalidGrant
	default:
		return Tokens{}, ErrInvalidGrant
	}
	// The session's scopes, never more than the role grants today.
	granted := intersect(res.Session.Scopes, res.User.Role.Scopes())
	if scopes != nil {
		if !subset(scopes, granted) {
			return Tokens{}, ErrInvalidScope
		}
		granted = dedupe(scopes)
	}
	return s.issue(res.User.ID, res.Session.ID, granted, next)
}

// revocationUntil is when a revocation made at now can be forgotten.
func (s *Service) revocationUntil(now time.Time) time.Time {
	return now.Add(s.o.AccessLifetime + 2*s.o.Leeway + time.Second)
}

// Logout ends the session of the principal's credentials: its refresh
// tokens stop working and every access token of it is refused from now on.
func (s *Service) Logout(ctx context.Context, p *fortapi.Principal, clientIP string) error {
	if p == nil || p.SessionID == "" {
		return errors.New("authn: logout: the credentials name no session")
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	until := s.revocationUntil(now)
	rev := server.Revocation{Kind: server.RevokeSession, Value: p.SessionID, Until: until, CreatedAt: now}
	ev := server.Event{Type: server.EventLogout, UserID: p.Subject, SessionID: p.SessionID, ClientIP: clientIP}
	if err := s.o.Store.RevokeSession(ctx, p.SessionID, rev, now, ev); err != nil {
		return fmt.Errorf("authn: logout: %w", err)
	}
	s.o.Revocations.RevokeSession(p.SessionID, until)
	return nil
}

// CreateUser checks the username and password, hashes the password and
// stores the user. actor names who did it in the audit log.
//
// The user is stored under the canonical form of username
// (server.CanonicalUsername: ＡＤＭＩＮ is admin); a username without one
// gives a *server.UsernameError, one whose canonical form is taken
// server.ErrConflict.
func (s *Service) CreateUser(ctx context.Context, username, pw string, role server.Role, actor string) (server.User, error) {
	username, err := server.CanonicalUsername(username)
	if err != nil {
		return server.User{}, err
	}
	if _, err := server.ParseRole(string(role)); err != nil {
		return server.User{}, err
	}
	if err := s.o.Policy.Check(pw, username); err != nil {
		return server.User{}, err
	}
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err != nil {
		return server.User{}, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	id, err := server.NewID(now, s.o.Rand)
	if err != nil {
		return server.User{}, err
	}
	u := server.User{ID: id, Username: username, Role: role, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	ev := server.Event{Type: server.EventUserCreated, UserID: id, Username: username, Detail: "role " + string(role) + " by " + actor}
	if err := s.o.Store.CreateUser(ctx, u, ev); err != nil {
		return server.User{}, err
	}
	return u, nil
}

// Username returns the username of the user with the id, from a cache
// after the first call.
func (s *Service) Username(ctx context.Context, userID string) (string, error) {
	s.namesMu.RLock()
	name, ok := s.names[userID]
	s.namesMu.RUnlock()
	if ok {
		return name, nil
	}
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return "", err
	}
	s.namesMu.Lock()
	if len(s.names) >= maxCachedNames {
		clear(s.names)
	}
	s.names[userID] = u.Username
	s.namesMu.Unlock()
	return u.Username, nil
}

// ChangePassword replaces a user's password after checking the current one,
// and revokes every session and access token of the user. Wrong current
// passwords count as untrusted login failures of the account (its
// username ceiling and Options.LoginFailures), and among themselves get
// the same free failures and delays as one client network: a stolen
// token cannot guess the password faster than an untrusted client.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) error {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	key := throttleKey(u.Username)
	if d := s.throttle.untrustedWait(key, passwordChangeNetwork, s.o.Now()); d > 0 {
		return &ThrottledError{RetryAfter: d}
	}
	if err := s.failuresLeft(ctx, key); err != nil {
		return err
	}
	ok, err := s.o.Hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return err
	}
	if !ok {
		s.throttle.untrustedFail(key, passwordChangeNetwork, s.o.Now())
		s.failure(ctx, key)
		return ErrWrongPassword
	}
	if err := s.o.Policy.Check(next, u.Username); err != nil {
		return err
	}
	h, err := s.o.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	_, err = s.changeUser(ctx, u.ID, server.UserChange{PasswordHash: &h, IfPasswordHash: &old},
		server.Event{Type: server.EventPasswordChanged, Detail: "password changed; sessions revoked"})
	return err
}

// passwordChangeNetwork is the client network ChangePassword's failures
// count under: no address parses to it.
const passwordChangeNetwork = "password-change"

// SetRole changes a user's role and revokes the user's tokens.
func (s *Service) SetRole(ctx context.Context, userID string, role server.Role, actor string) (server.User, error) {
	return s.UpdateUser(ctx, userID, &role, nil, actor)
}

// SetDisabled disables (revoking the user's tokens) or enables a user.
func (s *Service) SetDisabled(ctx context.Context, userID string, disabled bool, actor string) (server.User, error) {
	return s.UpdateUser(ctx, userID, nil, &disabled, actor)
}

// UpdateUser changes a user's role and/or disabled flag (nil leaves one as
// it is) in one atomic change, and revokes every session and access token
// of the user at once. The audit event is user.disabled when the change
// disables, otherwise user.role_changed when it sets a role, otherwise
// user.enabled; its detail names every field set and the actor. Errors:
// server.ErrNotFound, server.ErrLastAdmin, or an error naming an unknown
// role.
func (s *Service) UpdateUser(ctx context.Context, userID string, role *server.Role, disabled *bool, actor string) (server.User, error) {
	if role == nil && disabled == nil {
		return server.User{}, errors.New("authn: update user: nothing to change")
	}
	var parts []string
	typ := server.EventUserEnabled
	if role != nil {
		if _, err := server.ParseRole(string(*role)); err != nil {
			return server.User{}, err
		}
		typ = server.EventRoleChanged
		parts = append(parts, "role "+string(*role))
	}
	if disabled != nil {
		if *disabled {
			typ = server.EventUserDisabled
			parts = append(parts, "disabled")
		} else {
			parts = append(parts, "enabled")
		}
	}
	return s.changeUser(ctx, userID, server.UserChange{Role: role, Disabled: disabled},
		server.Event{Type: typ, Detail: strings.Join(parts, ", ") + " by " + actor})
}

// changeUser applies ch and revokes everything the user holds, in the
// store and, at once, in this process's memory.
func (s *Service) changeUser(ctx context.Context, userID string, ch server.UserChange, ev server.Event) (server.User, error) {
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	until := s.revocationUntil(now)
	ch.Revoke = &server.Revocation{Kind: server.RevokeSubject, Value: userID, NotBefore: now, Until: until, CreatedAt: now}
	u, err := s.o.Store.UpdateUser(ctx, userID, ch, now, ev)
	if err != nil {
		return server.User{}, err
	}
	s.o.Revocations.RevokeSubject(userID, now)
	// The store has also moved the user's credential version: a login
	// that read the user before this change cannot start a session now.
	// The user's sessions were revoked in the log: apply them here now,
	// the other processes within SyncEvery.
	if err := s.Sync(ctx); err != nil {
		s.o.Logger.WarnContext(ctx, "replaying revocations after a user change failed; the background sync retries", slog.Any("error", err))
	}
	return u, nil
}

// Bootstrap creates the user "admin" when the store has no user at all,
// with pw or, when pw is empty, a random password, which it returns
// (the caller shows it once). created is false when users already exist.
func (s *Service) Bootstrap(ctx context.Context, pw string) (generated string, created bool, err error) {
	users, err := s.o.Store.ListUsers(ctx, "", 1)
	if err != nil {
		return "", false, err
	}
	if len(users) > 0 {
		return "", false, nil
	}
	if pw == "" {
		if pw, err = s.random(18); err != nil {
			return "", false, err
		}
		generated = pw
	}
	if _, err := s.CreateUser(ctx, "admin", pw, server.RoleAdmin, "bootstrap"); err != nil {
		if errors.Is(err, server.ErrConflict) { // another process won the race
			return "", false, nil
		}
		return "", false, fmt.Errorf("creating the first administrator: %w", err)
	}
	return generated, true, nil
}

// event writes a security event; a failure is logged, never fatal.
func (s *Service) event(ctx context.Context, ev server.Event) {
	ev.At = s.o.Now().UTC().Truncate(time.Microsecond)
	if err := s.o.Store.AddEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.o.Logger.ErrorContext(ctx, "writing a security event failed", slog.String("type", ev.Type), slog.Any("error", err))
	}
}

// Authenticate implements fortapi.Authenticator: a bearer access token in
// the Authorization header or, when the request has no Authorization
// header, a web session cookie (WebLogin). A request never mixes both: an
// Authorization header that is not a bearer token makes the request
// anonymous, whatever cookie it carries.
func (s *Service) Authenticate(r *http.Request) (*fortapi.Principal, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return s.authenticateSession(r)
	}
	if len(vals) > 1 {
		return nil, errors.New("authn: several Authorization headers")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		// Another scheme (Basic, ...) is not a credential this API takes.
		return nil, fortapi.ErrNoCredentials
	}
	c, err := s.o.Tokens.Verify(r.Context(), strings.TrimLeft(tok, " "))
	if err != nil {
		return nil, err
	}
	return &fortapi.Principal{
		Subject: c.Subject, Scheme: fortapi.BearerScheme, Scopes: c.Scopes,
		SessionID: c.SessionID, TokenID: c.ID, ExpiresAt: c.ExpiresAt,
	}, nil
}

// Sync replays the revocation log entries added since the last Sync into
// the in-memory checker.
func (s *Service) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for {
		revs, err := s.o.Store.Revocations(ctx, s.lastSeq, s.o.Now(), 1000)
		if err != nil {
			return fmt.Errorf("authn: reading revocations: %w", err)
		}
		for _, r := range revs {
			switch r.Kind {
			case server.RevokeSubject:
				s.o.Revocations.RevokeSubject(r.Value, r.NotBefore)
			case server.RevokeSession:
				s.o.Revocations.RevokeSession(r.Value, r.Until)
			case server.RevokeJTI:
				s.o.Revocations.RevokeJTI(r.Value, r.Until)
			}
			s.lastSeq = r.Seq
		}
		if len(revs) < 1000 {
			return nil
		}
	}
}

// Run keeps the process in step with the store until ctx ends: it replays
// revocations every SyncEvery (with a Feed: on every wake-up, see
// runSync), reloads and maintains the key ring (automatic rotation) every
// KeysEvery, and prunes what has expired every PruneEvery. Failures are
// logged and retried.
func (s *Service) Run(ctx context.Context) {
	syncDone := make(chan struct{})
	go func() { s.runSync(ctx); close(syncDone) }()
	defer func() { <-syncDone }()
	keysT := time.NewTicker(s.o.KeysEvery)
	defer keysT.Stop()
	pruneT := time.NewTicker(s.o.PruneEvery)
	defer pruneT.Stop()
	var keysFailing, pruneFailing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-keysT.C:
			rotated, err := s.o.Keys.Maintain(ctx)
			keysFailing = s.logTransition(ctx, "maintaining signing keys", err, keysFailing)
			if rotated {
				s.o.Logger.InfoContext(ctx, "signing key rotated automatically")
				s.event(ctx, server.Event{Type: server.EventKeyRotated, Detail: "automatic rotation"})
			}
			s.o.Revocations.Prune()
		case <-pruneT.C:
			// A minute of slack: another process's clock may lag.
			n, err := s.o.Store.PruneExpired(ctx, s.o.Now().Add(-time.Minute))
			pruneFailing = s.logTransition(ctx, "pruning expired sessions and revocations", err, pruneFailing)
			if n > 0 {
				s.o.Logger.InfoContext(ctx, "pruned expired sessions, refresh tokens and revocations", slog.Int64("rows", n))
			}
		}
	}
}

// logTransition logs an error once when a background task starts failing
// and once when it recovers.
func (s *Service) logTransition(ctx context.Context, what string, err error, failing bool) bool {
	switch {
	case err != nil && !failing && ctx.Err() == nil:
		s.o.Logger.ErrorContext(ctx, what+" failed; retrying", slog.Any("error", err))
		return true
	case err == nil && failing:
		s.o.Logger.InfoContext(ctx, what+" works again")
		return false
	}
	return failing
}

// RotateKeys rotates the signing key now.
func (s *Service) RotateKeys(ctx context.Context, actor string) error {
	if err := s.o.Keys.Rotate(ctx); err != nil {
		return err
	}
	s.event(ctx, server.Event{Type: server.EventKeyRotated, UserID: actor, Detail: "manual rotation"})
	return nil
}

// RevokeKey stops trusting a signing key at once (see jwtkey.Ring.Revoke):
// every token it signed is refused.
func (s *Service) RevokeKey(ctx context.Context, kid, actor string) error {
	if err := s.o.Keys.Revoke(ctx, kid); err != nil {
		return err
	}
	s.event(ctx, server.Event{Type: server.EventKeyRevoked, UserID: actor, Detail: "key " + kid + " revoked"})
	return nil
}

func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SetPassword replaces a user's password without the current one (an
// administrator's reset, such as fortapi user set-password), after the
// password policy, and revokes every session and access token of the
// user at once, like ChangePassword. actor names who did it in the audit
// event (user.password_changed, detail "by "+actor). Errors:
// server.ErrNotFound, *password.PolicyError.
func (s *Service) SetPassword(ctx context.Context, userID, pw, actor string) (server.User, error) {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return server.User{}, err
	}
	if err := s.o.Policy.Check(pw, u.Username); err != nil {
		return server.User{}, err
	}
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err != nil {
		return server.User{}, err
	}
	return s.changeUser(ctx, u.ID, server.UserChange{PasswordHash: &h},
		server.Event{Type: server.EventPasswordChanged, Detail: "by " + actor})
}
