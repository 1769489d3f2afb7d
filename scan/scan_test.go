package scan

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// scanTarget runs a scan of a target with the flaws given, as alice and
// bob with root as the admin.
func scanTarget(t *testing.T, tg *target, checks ...string) *Report {
	t.Helper()
	srv := httptest.NewUnstartedServer(tg)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the TLS probes fail handshakes on purpose
	srv.TLS = &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	if tg.flaws["TLS-WEAK-CIPHER"] {
		srv.TLS.CipherSuites = nil // Go's defaults include ECDHE with AES-CBC
	}
	if tg.flaws["TLS-LEGACY-PROTOCOL"] {
		srv.TLS.MinVersion = tls.VersionTLS10
		srv.TLS.CipherSuites = append(srv.TLS.CipherSuites, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	defer scanTurn(false)()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{
		Target: srv.URL, RootCAs: pool, Rate: 5000, SleepSeconds: 1, second: tg.second, forgeryKey: scanKey(), Checks: checks,
		Users: []Credential{{"alice", "alice-pw-123456"}, {"bob", "bob-pw-1234567"}},
		Admin: &Credential{"root", "root-pw-1234567"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// evidence never carries a password or a whole token
	for _, f := range rep.Findings {
		for _, secret := range []string{"alice-pw-123456", "bob-pw-1234567", "root-pw-1234567"} {
			if strings.Contains(f.Evidence, secret) {
				t.Errorf("%s evidence leaks a password: %s", f.ID, f.Evidence)
			}
		}
		if m := reJWT.FindString(f.Evidence); m != "" {
			t.Errorf("%s evidence carries a whole token %s", f.ID, m)
		}
	}
	return rep
}

// ids lists the ids of the findings above info.
func ids(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity != Info && !slices.Contains(out, f.ID) {
			out = append(out, f.ID)
		}
	}
	sort.Strings(out)
	return out
}

func dump(r *Report) string {
	var b strings.Builder
	_ = WriteText(&b, r)
	return b.String()
}

func TestCleanTargetHasNoFindings(t *testing.T) {
	t.Parallel()
	rep := scanTarget(t, newTarget())
	if got := ids(rep); len(got) != 0 {
		t.Errorf("findings on the clean target: %v\n%s", got, dump(rep))
	}
	if rep.Requests < 100 {
		t.Errorf("only %d requests", rep.Requests)
	}
}

func TestEachPlantedFlawIsFound(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		flaws  []string
		checks string
		want   []string // exactly these ids; default: flaws
	}{
		{flaws: []string{"HSTS-MISSING"}, checks: "transport"},
		{flaws: []string{"TLS-WEAK-CIPHER"}, checks: "transport"},
		{flaws: []string{"TLS-LEGACY-PROTOCOL"}, checks: "TLS-LEGACY-PROTOCOL"},
		{flaws: []string{"HDR-NOSNIFF-MISSING"}, checks: "headers"},
		{flaws: []string{"HDR-CSP-MISSING"}, checks: "headers"},
		{flaws: []string{"HDR-FRAMING-MISSING"}, checks: "headers"},
		{flaws: []string{"HDR-SERVER-BANNER"}, checks: "headers"},
		{flaws: []string{"CORS-REFLECT-ORIGIN"}, checks: "headers"},
		{flaws: []string{"CORS-NULL-ORIGIN"}, checks: "headers"},
		{flaws: []string{"CORS-WILDCARD-CREDENTIALS"}, checks: "headers"},
		{flaws: []string{"AUTH-MISSING"}, checks: "authn"},
		{flaws: []string{"AUTH-GARBAGE-TOKEN"}, checks: "authn"},
		{flaws: []string{"AUTH-USER-ENUMERATION"}, checks: "authn"},
		{flaws: []string{"AUTH-NO-LOGIN-RATE-LIMIT"}, checks: "authn"},
		{flaws: []string{"JWT-ALG-NONE"}, checks: "jwt", want: []string{"JWT-ALG-NONE"}},
		{flaws: []string{"JWT-SIGNATURE-NOT-VERIFIED"}, checks: "jwt", want: []string{"JWT-SIGNATURE-NOT-VERIFIED"}},
		{flaws: []string{"JWT-WEAK-SECRET"}, checks: "jwt"},
		{flaws: []string{"JWT-ALG-CONFUSION"}, checks: "jwt"},
		{flaws: []string{"JWT-KID-INJECTION"}, checks: "jwt"},
		{flaws: []string{"JWT-HEADER-KEY-TRUST"}, checks: "jwt"},
		{flaws: []string{"JWT-WEAK-SECRET", "JWT-EXPIRED-ACCEPTED"}, checks: "jwt"},
		{flaws: []string{"JWT-WEAK-SECRET", "JWT-NBF-IGNORED"}, checks: "jwt"},
		{flaws: []string{"BOLA-READ"}, checks: "authz"},
		{flaws: []string{"BOLA-WRITE"}, checks: "authz"},
		{flaws: []string{"BFLA"}, checks: "authz"},
		{flaws: []string{"MASS-ASSIGNMENT"}, checks: "authz"},
		{flaws: []string{"INPUT-5XX"}, checks: "input"},
		{flaws: []string{"SQLI-ERROR"}, checks: "input"},
		{flaws: []string{"SQLI-BOOLEAN"}, checks: "input"},
		{flaws: []string{"SQLI-TIME"}, checks: "input"},
		{flaws: []string{"XSS-REFLECTED"}, checks: "input"},
		{flaws: []string{"BODY-OVERSIZED"}, checks: "input"},
		{flaws: []string{"EXPOSURE-DEBUG-ENDPOINT"}, checks: "exposure"},
		{flaws: []string{"EXPOSURE-SECRET-FIELD"}, checks: "exposure"},
	} {
		t.Run(strings.Join(tt.flaws, "+"), func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if want == nil {
				want = slices.Clone(tt.flaws)
				sort.Strings(want)
			}
			rep := scanTarget(t, newTarget(tt.flaws...), strings.Split(tt.checks, ",")...)
			if got := ids(rep); !slices.Equal(got, want) {
				t.Errorf("found %v, want %v\n%s", got, want, dump(rep))
			}
		})
	}
}
