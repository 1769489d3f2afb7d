package authn

import (
	"context"
	"errors"
	"time"

	"github.com/fortapi/fortapi/password"
)

// Observer is told the outcome of every login and refresh, every refresh
// token reuse, and how late each revocation from the store's log was
// applied here (Options.Observer), for metrics. Its arguments come from
// the fixed sets below: never a username, address or token. Calls must
// be cheap and must not block.
type Observer interface {
	// AuthAttempt reports one attempt: method is a Method* constant,
	// result a Result* constant and reason a Reason* constant.
	AuthAttempt(method, result, reason string)
	// RefreshReuse reports a rotated refresh token presented again: its
	// session was revoked (theft detection).
	RefreshReuse()
	// RevocationApplied reports the time from a revocation's write to
	// the store to its application in this process (Sync), for entries
	// written after the first Sync.
	RevocationApplied(lag time.Duration)
}

// Methods of Observer.AuthAttempt.
const (
	MethodPassword = "password" // the OAuth2 password grant (Login)
	MethodRefresh  = "refresh"  // the refresh grant (Refresh)
	MethodSession  = "session"  // the HTML login form, starting a web session (WebLogin)
)

// Results of Observer.AuthAttempt.
const (
	ResultSuccess = "success" // credentials accepted
	ResultFailure = "failure" // credentials refused: the client's fault
	ResultRefused = "refused" // not checked: throttled or the hasher busy
	ResultError   = "error"   // not decided: the store or limiter failed, or the client left
)

// Reasons of Observer.AuthAttempt.
const (
	ReasonOK                 = "ok"
	ReasonInvalidCredentials = "invalid_credentials" // wrong password, unknown or disabled user, invalid refresh token
	ReasonInvalidScope       = "invalid_scope"
	ReasonReused             = "reused" // a rotated refresh token again: its session was revoked
	ReasonThrottled          = "throttled"
	ReasonBusy               = "busy" // the password hasher's queue was full
	ReasonUnavailable        = "unavailable"
	ReasonCanceled           = "canceled"
	ReasonInternal           = "internal"
)

// attemptOutcome classifies the error of a login or refresh.
func attemptOutcome(err error, reused bool) (result, reason string) {
	var te *ThrottledError
	var ue *UnavailableError
	switch {
	case err == nil:
		return ResultSuccess, ReasonOK
	case reused:
		return ResultFailure, ReasonReused
	case errors.Is(err, ErrInvalidGrant):
		return ResultFailure, ReasonInvalidCredentials
	case errors.Is(err, ErrInvalidScope):
		return ResultFailure, ReasonInvalidScope
	case errors.As(err, &te):
		return ResultRefused, ReasonThrottled
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ResultError, ReasonCanceled
	case errors.Is(err, password.ErrBusy):
		return ResultRefused, ReasonBusy
	case errors.As(err, &ue):
		return ResultError, ReasonUnavailable
	}
	return ResultError, ReasonInternal
}

// observeAttempt reports an attempt's outcome to Options.Observer.
func (s *Service) observeAttempt(method string, err error, reused bool) {
	if o := s.o.Observer; o != nil {
		result, reason := attemptOutcome(err, reused)
		o.AuthAttempt(method, result, reason)
	}
}
