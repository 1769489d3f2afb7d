package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/sanitize"
	"github.com/fortapi/fortapi/server"
)

// Register adds every operation of the reference server to api. What
// the API already owns (the client-address resolver, the CSRF protector
// and its session binding, the security headers) the handlers read from
// it. The HTML pages and GET /csrftoken/ are registered only when the API
// has a CSRF protector (fortapi.Options.CSRF).
//
// Every route of the reference server is listed here, in the register
// functions below, each next to its handlers' file.
func Register(api *fortapi.API, d Deps) {
	d.api = api
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	d.Limits = d.Limits.withDefaults()
	if d.Sanitizer == nil {
		d.Sanitizer = sanitize.New()
	}
	registerHealth(api, d)
	registerAuth(api, d)
	registerItems(api, d)
	registerUsers(api, d)
	if api.CSRF() != nil {
		registerPages(api, d)
	}
}

type statusOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

func registerHealth(api huma.API, d Deps) {
	writable := &writeCheck{now: d.Now}
	if wc, ok := d.Store.(WriteChecker); ok {
		writable.store = wc
	}
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness", Tags: []string{"health"}, Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness: the store answers and takes writes, the TLS certificate is valid",
		Description: "200 while the store answers and takes writes and the served TLS certificate (if the server terminates TLS) has not expired. " +
			"`certificate_not_after` is the served certificate's expiry. `warnings` lists what needs an operator without taking " +
			"the instance out of service: a certificate expiring within 14 days, certificate files that were refused (the previous " +
			"certificate is still served), an ACME certificate not obtained yet. 503, with the reason, when the store does not answer, " +
			"cannot write (a read-only database file or file system, a lost connection, a PostgreSQL standby), or the certificate has expired. With shared rate limits on Redis, an unreachable Redis is a warning, or 503 when the limits fail closed.",
		Tags: []string{"health"}, Security: fortapi.Public(),
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if d.Store == nil || d.Store.Ping(ctx) != nil {
			return nil, huma.Error503ServiceUnavailable("the store is not reachable")
		}
		if err := writable.check(ctx); err != nil {
			reason := "the store cannot write"
			var ue *server.UnwritableError
			if errors.As(err, &ue) {
				reason += ": " + ue.Reason
			}
			return nil, huma.Error503ServiceUnavailable(reason)
		}
		out := &readyOutput{}
		out.Body.Status = "ready"
		if d.Redis != nil {
			if err := d.Redis(ctx); err != nil {
				if d.RedisRequired {
					return nil, huma.Error503ServiceUnavailable("Redis (shared rate limits, failing closed) is not reachable")
				}
				out.Body.Warnings = append(out.Body.Warnings, "Redis is not reachable: rate limits are per instance until it answers")
			}
		}
		if d.CertExpiry != nil {
			notAfter, err := d.CertExpiry(ctx)
			if !notAfter.IsZero() {
				if !d.Now().Before(notAfter) {
					return nil, huma.Error503ServiceUnavailable("the TLS certificate expired at " + notAfter.UTC().Format(time.RFC3339))
				}
				t := notAfter.UTC()
				out.Body.CertificateNotAfter = &t
				if notAfter.Sub(d.Now()) < CertExpiryWarning {
					out.Body.Warnings = append(out.Body.Warnings, "the TLS certificate expires within 14 days, at "+t.Format(time.RFC3339))
				}
			}
			if err != nil {
				out.Body.Warnings = append(out.Body.Warnings, err.Error())
			}
		}
		return out, nil
	})
}

// WriteChecker is a store that can tell whether it takes writes
// (sqlite.Store and postgres.Store do): /readyz answers 503 while
// CheckWritable fails. The text shown is the Reason of a
// *server.UnwritableError, which names no path, host or credential (/readyz
// is public); any other error is shown as "the store cannot write".
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

// writeCheckEvery is how long a write check's result is reused: /readyz is
// public, and each check is a write.
const writeCheckEvery = time.Second

// writeCheck runs the store's write check for /readyz, at most once per
// writeCheckEvery; callers in between get the last result.
type writeCheck struct {
	store WriteChecker // nil: the store cannot tell; assumed writable
	now   func() time.Time

	mu   sync.Mutex
	at   time.Time
	last error
}

func (w *writeCheck) check(ctx context.Context) error {
	if w.store == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := w.now(); w.at.IsZero() || now.Sub(w.at) >= writeCheckEvery || now.Before(w.at) {
		w.last = w.store.CheckWritable(ctx)
		if ctx.Err() == nil { // a caller that left proves nothing for the others
			w.at = w.now()
		} else {
			w.at = time.Time{}
		}
	}
	return w.last
}

// CertExpiryWarning is how long before the TLS certificate expires
// /readyz starts warning about it: 14 days (tlsconfig.ExpiryWarning).
const CertExpiryWarning = 14 * 24 * time.Hour

// CertExpiryFunc reports when the served TLS certificate expires (zero
// when unknown) and a problem with it, if any. The error's text is shown
// on /readyz, which is public: it must name no path or internal detail.
type CertExpiryFunc func(context.Context) (time.Time, error)

type readyOutput struct {
	Body struct {
		Status string `json:"status" example:"ready"`
		// CertificateNotAfter is when the served TLS certificate expires.
		CertificateNotAfter *time.Time `json:"certificate_not_after,omitempty" doc:"When the served TLS certificate expires (absent when this server does not terminate TLS)"`
		Warnings            []string   `json:"warnings,omitempty" doc:"Problems that need an operator but leave the server ready (certificate expiring within 14 days, refused certificate files, ACME certificate not obtained yet)"`
	}
}
