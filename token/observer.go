package token

import "errors"

// Observer is told the outcome of every Verify (Options.Observer), for
// metrics. Its calls must be cheap and must not block: they run on the
// request path. The values come from fixed sets: never anything of the
// token.
type Observer interface {
	// Verified reports a verification's result: one of the Result*
	// constants.
	Verified(result string)
	// CacheLookup reports whether a token was found in the verified-token
	// cache (not called when the cache is disabled).
	CacheLookup(hit bool)
}

// Results of Verify, as Observer.Verified reports them.
const (
	ResultOK           = "ok"
	ResultExpired      = "expired"
	ResultBadSignature = "bad_signature"
	ResultUnknownKey   = "unknown_kid"
	ResultRevoked      = "revoked"
	ResultMalformed    = "malformed"
)

// Result classifies an error of Verify into one of the Result* constants
// (ResultOK for nil): a signature that does not verify under the key its
// kid names, or an algorithm that differs from it, is bad_signature; an
// expired or not yet valid token is expired; every other refusal
// (encoding, header, claims, issuer, audience) is malformed.
func Result(err error) string {
	if err == nil {
		return ResultOK
	}
	var r reason
	if !errors.As(err, &r) {
		return ResultMalformed
	}
	switch r {
	case reasonExpired, reasonNotYetValid:
		return ResultExpired
	case reasonSignature, reasonAlgorithm, reasonKeyUnusable, reasonKeyChanged:
		return ResultBadSignature
	case reasonUnknownKey:
		return ResultUnknownKey
	case reasonRevoked:
		return ResultRevoked
	}
	return ResultMalformed
}
