package tlsconfig

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ExpiryWarning is how long before a certificate expires servers should
// start warning about it (in logs and on /readyz): 14 days.
const ExpiryWarning = 14 * 24 * time.Hour

// maxPEMFile bounds what the reloader reads from a certificate or key
// file (1 MiB; a chain of a few certificates is a few KiB).
const maxPEMFile = 1 << 20

// ReloaderOptions tune a FileReloader; the zero value is fine.
type ReloaderOptions struct {
	// Logger receives reloads (info), refused files (error, once per
	// distinct content) and expiry warnings (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is how often Run looks at the files (default 5s).
	// Each look reads both files and compares a hash of their content,
	// so a rewrite is noticed whatever happens to the modification time
	// (renames, Kubernetes' symlink swaps, copies that keep the mtime).
	PollInterval time.Duration
	// WarnBefore: Run logs a warning, at most once a day, while the
	// served certificate expires within this time (default ExpiryWarning,
	// 14 days).
	WarnBefore time.Duration
}

// FileReloader serves the certificate and key in two PEM files and picks
// up new ones without a restart. A new pair replaces the served one only
// when it is complete and valid: the key matches the certificate, the
// certificate is valid now. Anything else (a half-written file, a key for
// another certificate, garbage, an expired certificate) is logged once
// and the previous certificate goes on serving.
//
// GetCertificate reads one atomic pointer: no lock on the handshake path.
type FileReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time
	interval          time.Duration
	warnBefore        time.Duration

	cur atomic.Pointer[servedPair]

	mu         sync.Mutex // serializes Reload; guards the fields below
	badVersion string     // the content (or error) last refused and logged
	lastErr    error
	lastWarn   time.Time
}

type servedPair struct {
	cert        *tls.Certificate
	sum         [32]byte // of both files' content
	fingerprint string
}

// NewFileReloader loads certFile (the certificate, then any intermediates)
// and keyFile, and fails when they do not make a valid pair now. Call Run
// to watch them; use GetCertificate or TLSConfig in the server.
func NewFileReloader(certFile, keyFile string, opts ReloaderOptions) (*FileReloader, error) {
	r := &FileReloader{
		certFile:   certFile,
		keyFile:    keyFile,
		log:        opts.Logger,
		now:        opts.Now,
		interval:   opts.PollInterval,
		warnBefore: opts.WarnBefore,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.interval <= 0 {
		r.interval = 5 * time.Second
	}
	if r.warnBefore <= 0 {
		r.warnBefore = ExpiryWarning
	}
	p, err := r.load()
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	r.cur.Store(p)
	r.log.Info("TLS certificate loaded", r.attrs(p)...)
	r.warnExpiry()
	return r, nil
}

// GetCertificate returns the certificate being served, for
// tls.Config.GetCertificate.
func (r *FileReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// TLSConfig returns Server() with GetCertificate set to r.
func (r *FileReloader) TLSConfig() *tls.Config {
	c := Server()
	c.GetCertificate = r.GetCertificate
	return c
}

// Leaf is the served certificate.
func (r *FileReloader) Leaf() *x509.Certificate { return r.cur.Load().cert.Leaf }

// NotAfter is when the served certificate expires.
func (r *FileReloader) NotAfter() time.Time { return r.Leaf().NotAfter }

// Fingerprint is the SHA-256 of the served certificate, colon-separated
// upper-case hex as browsers and openssl show it.
func (r *FileReloader) Fingerprint() string { return r.cur.Load().fingerprint }

// ExpiresWithin reports whether the served certificate expires within d
// (or has expired), by the reloader's clock.
func (r *FileReloader) ExpiresWithin(d time.Duration) bool {
	return r.NotAfter().Sub(r.now()) < d
}

// Err returns why the files on disk were last refused, or nil when the
// served certificate is what they hold. A readiness check can report it.
func (r *FileReloader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Run checks the files every PollInterval until ctx is done, reloading
// them when their content changed and warning while the certificate is
// about to expire.
func (r *FileReloader) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = r.Reload()
			r.warnExpiry()
		}
	}
}

// Reload reads the files now (for example on SIGHUP) and swaps in their
// pair when it changed and is valid. It reports whether the served
// certificate changed. On an error the previous certificate stays.
func (r *FileReloader) Reload() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.cur.Load()
	certPEM, keyPEM, err := r.read()
	var version string
	if err == nil {
		sum := contentSum(certPEM, keyPEM)
		if sum == cur.sum {
			r.badVersion, r.lastErr = "", nil
			return false, nil
		}
		version = hex.EncodeToString(sum[:])
		var p *servedPair
		p, err = r.parse(certPEM, keyPEM, sum)
		if err == nil {
			r.cur.Store(p)
			r.badVersion, r.lastErr = "", nil
			r.lastWarn = time.Time{}
			r.log.Info("TLS certificate reloaded", r.attrs(p)...)
			return true, nil
		}
	} else {
		version = "error: " + err.Error()
	}
	err = fmt.Errorf("tlsconfig: %w", err)
	r.lastErr = err
	if version != r.badVersion {
		r.badVersion = version
		r.log.Error("TLS certificate files refused; still serving the previous certificate",
			"error", err.Error(), "cert_file", r.certFile, "key_file", r.keyFile, "serving_sha256", cur.fingerprint)
	}
	return false, err
}

func (r *FileReloader) warnExpiry() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	leaf := r.cur.Load().cert.Leaf
	if leaf.NotAfter.Sub(now) >= r.warnBefore || now.Sub(r.lastWarn) < 24*time.Hour {
		return
	}
	r.lastWarn = now
	r.log.Warn("TLS certificate expires soon; replace the files", "cert_file", r.certFile,
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "left", leaf.NotAfter.Sub(now).Round(time.Minute).String())
}

func (r *FileReloader) attrs(p *servedPair) []any {
	leaf := p.cert.Leaf
	return []any{"cert_file", r.certFile, "sha256", p.fingerprint, "subject", leaf.Subject.String(),
		"dns_names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}

func (r *FileReloader) load() (*servedPair, error) {
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	return r.parse(certPEM, keyPEM, contentSum(certPEM, keyPEM))
}

func (r *FileReloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = readBounded(r.certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = readBounded(r.keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPEMFile)
	}
	return b, nil
}

func contentSum(certPEM, keyPEM []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(certPEM)))
	h.Write(n[:])
	h.Write(certPEM)
	h.Write(keyPEM)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

var errNoCertificate = errors.New("no certificate in the file")

// parse checks a pair: PEM, matching key, a leaf valid now.
func (r *FileReloader) parse(certPEM, keyPEM []byte, sum [32]byte) (*servedPair, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", r.certFile, r.keyFile, err)
	}
	if len(pair.Certificate) == 0 {
		return nil, fmt.Errorf("%s: %w", r.certFile, errNoCertificate)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", r.certFile, err)
		}
	}
	now := r.now()
	switch leaf := pair.Leaf; {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("%s: the certificate is not valid before %s", r.certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("%s: the certificate expired at %s", r.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	fp := sha256.Sum256(pair.Leaf.Raw)
	return &servedPair{cert: &pair, sum: sum, fingerprint: colonHex(fp[:])}, nil
}
