package csrf

import (
	"context"
	"errors"
)

// The errors Check returns, and Reason reports to a Deny handler, wrap
// exactly one of these; test with errors.Is. Their text is a fixed phrase
// naming the failed check and never contains anything from the request,
// so it is safe to log and to show.
var (
	// ErrCrossOrigin: the cross-origin check failed (Sec-Fetch-Site says
	// the request is not same-origin, or, without Sec-Fetch-Site, Origin
	// does not match Host), and Origin is not trusted.
	ErrCrossOrigin = errors.New("csrf: cross-origin request refused")
	// ErrMissingToken: there is no token cookie, or no token in the
	// X-CSRF-Token header or the csrf_token form field.
	ErrMissingToken = errors.New("csrf: token missing")
	// ErrBadToken: a token is malformed, was not minted under this key
	// for the current session, was submitted more than once, or differs
	// from the cookie.
	ErrBadToken = errors.New("csrf: token invalid")
	// ErrFormTooLarge: the form body exceeds Options.MaxFormBytes.
	ErrFormTooLarge = errors.New("csrf: form body too large")
	// ErrBadForm: the form body that should carry the token cannot be
	// read: malformed chunked encoding, a body shorter than its
	// Content-Length, invalid form encoding. The client's fault (400).
	ErrBadForm = errors.New("csrf: form body unreadable")
)

// reason is why a request was refused. A small integer, so returning it
// does not allocate.
type reason uint8

const (
	reasonSecFetchSite reason = iota + 1
	reasonOrigin
	reasonNoCookie
	reasonNoToken
	reasonBadForm
	reasonFormTooLarge
	reasonMalformed
	reasonSeveral
	reasonMAC
	reasonMismatch
)

func (r reason) Error() string { return r.Unwrap().Error() + ": " + r.text() }

// Unwrap makes errors.Is hold for the reason's sentinel.
func (r reason) Unwrap() error {
	switch r {
	case reasonSecFetchSite, reasonOrigin:
		return ErrCrossOrigin
	case reasonNoCookie, reasonNoToken:
		return ErrMissingToken
	case reasonBadForm:
		return ErrBadForm
	case reasonFormTooLarge:
		return ErrFormTooLarge
	default:
		return ErrBadToken
	}
}

func (r reason) text() string {
	switch r {
	case reasonSecFetchSite:
		return "Sec-Fetch-Site is neither same-origin nor none"
	case reasonOrigin:
		return "Origin does not match Host"
	case reasonNoCookie:
		return "no " + CookieName + " cookie"
	case reasonNoToken:
		return "no token in the " + HeaderName + " header or the " + FieldName + " form field"
	case reasonBadForm:
		return "the form body could not be read"
	case reasonFormTooLarge:
		return "the form body exceeds the size limit"
	case reasonMalformed:
		return "the token is not well-formed"
	case reasonSeveral:
		return "more than one token was submitted"
	case reasonMAC:
		return "the token was not issued for this session"
	case reasonMismatch:
		return "the token does not match the " + CookieName + " cookie"
	}
	return "refused"
}

type reasonKey struct{}

// Reason returns why the middleware refused the request whose context is
// ctx, or nil. A Deny handler calls it; the error wraps one of ErrCrossOrigin,
// ErrMissingToken, ErrBadToken, ErrFormTooLarge or ErrBadForm.
func Reason(ctx context.Context) error {
	err, _ := ctx.Value(reasonKey{}).(error)
	return err
}

func withReason(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, reasonKey{}, err)
}
