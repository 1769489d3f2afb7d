//go:build !fortapi_testauth

package main

import (
	"log/slog"

	"github.com/fortapi/fortapi"
)

// testAuthenticator is nil in every normal build: the header-based test
// authenticator exists only in binaries built with -tags fortapi_testauth.
func testAuthenticator(func(string) string, *slog.Logger) fortapi.Authenticator { return nil }
