package secret

import (
	"context"
	"log/slog"

	"github.com/fortapi/fortapi/internal/accesslog"
)

// RedactOption tunes NewRedactingHandler.
type RedactOption func(*redactConfig)

type redactConfig struct {
	fragments, allow []string
}

// WithSensitiveKeys adds key fragments to the default ones (for example
// "session" when session ids are credentials in your application). They
// are matched like the defaults: case-insensitively, ignoring everything
// but letters and digits, anywhere in the key.
func WithSensitiveKeys(fragments ...string) RedactOption {
	return func(c *redactConfig) { c.fragments = append(c.fragments, fragments...) }
}

// WithAllowedKeys names keys that are never redacted although they contain
// a sensitive fragment (for example "token_bucket"). Their string values
// are still scrubbed.
func WithAllowedKeys(keys ...string) RedactOption {
	return func(c *redactConfig) { c.allow = append(c.allow, keys...) }
}

// NewRedactingHandler wraps inner so that no password, token, cookie or
// key reaches it:
//
//   - an attribute whose key is sensitive has its value replaced by
//     [REDACTED], whatever its kind (a group as a whole). A key is
//     sensitive when, lower-cased and with everything but letters and
//     digits removed, it contains password, passwd, passphrase, token,
//     secret, authorization, cookie, csrf, xsrf, apikey or privatekey
//     (so access_token, Refresh-Token, set-cookie, X-API-Key,
//     client_secret, private_key), unless it ends in count, type, name,
//     ttl, lifetime, maxage, expiry, expires, expiresat or expiresin
//     (token_count, token_type and cookie_name stay readable);
//   - every attribute inside a group whose name is sensitive, including
//     groups opened with WithGroup, is redacted;
//   - the message, string values and error values (an error whose message
//     needs scrubbing becomes a string) are scrubbed with the rules of Scrub: JWTs, Bearer and Basic
//     credentials, and key=value / "key": "value" pairs with sensitive
//     keys;
//   - LogValuer values are resolved first, so a Secret prints [REDACTED]
//     under any key.
//
// Values of other kinds under harmless keys (structs, maps, slices passed
// as slog.Any) are passed on untouched: give such types a LogValue method,
// or hold their secrets in a Secret. Attributes added with WithAttrs are
// redacted once, when added. A record without anything to redact is
// passed on as it is, without copying.
func NewRedactingHandler(inner slog.Handler, opts ...RedactOption) slog.Handler {
	m := defaultKeys
	if len(opts) > 0 {
		c := redactConfig{fragments: append([]string(nil), defaultKeyFragments...)}
		for _, o := range opts {
			o(&c)
		}
		m = newKeyMatcher(c.fragments, c.allow)
	}
	return &redactingHandler{inner: inner, m: m, accessClean: accessClean(m)}
}

type redactingHandler struct {
	inner slog.Handler
	m     *keyMatcher // shared, never changed after construction
	// hidden is set below a WithGroup whose name is sensitive: every
	// attribute is redacted.
	hidden bool
	// accessClean: m finds no key of the access line (accesslog.Keys())
	// sensitive and its message needs no scrubbing, so that HandleAccess
	// only scrubs the line's strings.
	accessClean bool
}

// accessClean reports whether an access line's keys and message are
// harmless to m.
func accessClean(m *keyMatcher) bool {
	if _, changed := m.scrub(accesslog.Message); changed {
		return false
	}
	for _, k := range accesslog.Keys() {
		if m.sensitive(k) {
			return false
		}
	}
	return true
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &redactingHandler{inner: h.inner.WithGroup(name), m: h.m, hidden: h.hidden || h.m.sensitive(name), accessClean: h.accessClean}
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i], _ = h.redact(a, h.hidden)
	}
	return &redactingHandler{inner: h.inner.WithAttrs(out), m: h.m, hidden: h.hidden, accessClean: h.accessClean}
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg, msgChanged := h.m.scrub(r.Message)
	attrsChanged := false
	r.Attrs(func(a slog.Attr) bool {
		if h.needsChange(a, h.hidden) {
			attrsChanged = true
			return false
		}
		return true
	})
	if !attrsChanged {
		if msgChanged {
			r.Message = msg
		}
		return h.inner.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a, _ = h.redact(a, h.hidden)
		nr.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, nr)
}

// HandleAccess is Handle(ctx, l.Record()) without the record: the
// line's keys and message are known harmless (accessClean, checked when
// the handler was made), so redacting it is scrubbing its five strings,
// each of which may carry what a client sent (a token in the path, a JWT
// as the request id). Below a sensitive group, or with sensitive keys
// that make a key of the line sensitive, the record goes through Handle.
func (h *redactingHandler) HandleAccess(ctx context.Context, l accesslog.Line) error {
	if h.hidden || !h.accessClean {
		return h.Handle(ctx, l.Record())
	}
	l.RequestID, _ = h.m.scrub(l.RequestID)
	l.Method, _ = h.m.scrub(l.Method)
	l.Path, _ = h.m.scrub(l.Path)
	l.Remote, _ = h.m.scrub(l.Remote)
	l.Proto, _ = h.m.scrub(l.Proto)
	return accesslog.Handle(ctx, h.inner, l)
}

var redactedValue = slog.StringValue(Redacted)

// needsChange is the allocation-free test for whether redact would change
// a.
func (h *redactingHandler) needsChange(a slog.Attr, hidden bool) bool {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		return true
	}
	if a.Key != "" && (hidden || h.m.sensitive(a.Key)) {
		return !(v.Kind() == slog.KindString && v.String() == Redacted)
	}
	switch v.Kind() {
	case slog.KindString:
		_, changed := h.m.scrub(v.String())
		return changed
	case slog.KindGroup:
		for _, ga := range v.Group() {
			if h.needsChange(ga, hidden) {
				return true
			}
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			_, changed := h.m.scrub(err.Error())
			return changed
		}
	}
	return false
}

// redact returns a with sensitive content replaced, and whether anything
// changed.
func (h *redactingHandler) redact(a slog.Attr, hidden bool) (slog.Attr, bool) {
	v := a.Value.Resolve()
	changed := v.Kind() != a.Value.Kind()
	if a.Key != "" && (hidden || h.m.sensitive(a.Key)) {
		if v.Kind() == slog.KindGroup && len(v.Group()) == 0 {
			return slog.Attr{Key: a.Key, Value: v}, changed // empty groups vanish anyway
		}
		return slog.Attr{Key: a.Key, Value: redactedValue}, true
	}
	switch v.Kind() {
	case slog.KindString:
		if s, ok := h.m.scrub(v.String()); ok {
			return slog.String(a.Key, s), true
		}
	case slog.KindGroup:
		group := v.Group()
		var out []slog.Attr
		for i, ga := range group {
			na, ch := h.redact(ga, hidden)
			if ch && out == nil {
				out = make([]slog.Attr, len(group))
				copy(out, group[:i])
			}
			if out != nil {
				out[i] = na
			}
		}
		if out != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}, true
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			if s, ok := h.m.scrub(err.Error()); ok {
				return slog.String(a.Key, s), true
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, changed
}
