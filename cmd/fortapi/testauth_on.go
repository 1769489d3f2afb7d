//go:build fortapi_testauth

package main

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/fortapi/fortapi"
)

// testAuthenticator trusts two request headers, for load and crash tests
// that run before real authentication exists. It is compiled only with
// -tags fortapi_testauth and enabled only with FORTAPI_TEST_AUTH=1, and it
// says so loudly at start-up. Never ship such a binary.
//
//	X-Fortapi-Test-User: SUBJECT               (required)
//	X-Fortapi-Test-Scopes: items:read ...      (default "items:read items:write")
func testAuthenticator(getenv func(string) string, log *slog.Logger) fortapi.Authenticator {
	if getenv("FORTAPI_TEST_AUTH") != "1" {
		return nil
	}
	log.Warn("TEST AUTHENTICATION ENABLED (build tag fortapi_testauth, FORTAPI_TEST_AUTH=1): any client can claim any user through X-Fortapi-Test-User; never run this binary in production")
	return fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		sub := r.Header.Get("X-Fortapi-Test-User")
		if sub == "" {
			return nil, fortapi.ErrNoCredentials
		}
		scopes := "items:read items:write"
		if s := r.Header.Get("X-Fortapi-Test-Scopes"); s != "" {
			scopes = s
		}
		return &fortapi.Principal{Subject: sub, Scheme: fortapi.BearerScheme, Scopes: strings.Fields(scopes)}, nil
	})
}
