package token

import "errors"

// ErrInvalidToken is the one error Verify reports for every refused token.
//
// The error Verify returns wraps it (test with errors.Is) and names the
// reason in its text for logs. The reason is a fixed phrase: it never
// repeats anything taken from the token, so it is safe to log. Do not show
// it to the client: an HTTP layer answers 401 with error="invalid_token"
// whatever the reason.
var ErrInvalidToken = errors.New("token: invalid token")

// reason is why Verify refused a token. It is a small integer so that
// returning it as an error does not allocate.
type reason uint8

const (
	reasonTooLong reason = iota + 1
	reasonSegments
	reasonEncoding
	reasonHeaderJSON
	reasonHeaderForbidden
	reasonHeaderUnknown
	reasonHeaderMissing
	reasonType
	reasonKeyID
	reasonUnknownKey
	reasonKeyUnusable
	reasonKeyChanged
	reasonAlgorithm
	reasonSignature
	reasonClaimsJSON
	reasonClaimUnknown
	reasonClaimDuplicate
	reasonClaimMissing
	reasonClaimType
	reasonIssuer
	reasonAudience
	reasonSubject
	reasonSession
	reasonID
	reasonScope
	reasonExpired
	reasonNotYetValid
	reasonIssuedInFuture
	reasonLifetime
	reasonRevoked
)

func (r reason) Error() string { return "token: invalid token: " + r.text() }

// Unwrap makes errors.Is(err, ErrInvalidToken) hold for every reason.
func (r reason) Unwrap() error { return ErrInvalidToken }

func (r reason) text() string {
	switch r {
	case reasonTooLong:
		return "longer than the size limit"
	case reasonSegments:
		return "not three non-empty base64url segments"
	case reasonEncoding:
		return "segment is not canonical base64url"
	case reasonHeaderJSON:
		return "header is not a flat JSON object of strings (or repeats a member)"
	case reasonHeaderForbidden:
		return "header carries a key or certificate reference (jwk, jku, x5u, x5c, x5t, crit, ...)"
	case reasonHeaderUnknown:
		return "header has a member other than alg, typ, kid"
	case reasonHeaderMissing:
		return "header lacks alg, typ or kid"
	case reasonType:
		return "typ is not at+jwt"
	case reasonKeyID:
		return "kid is malformed"
	case reasonUnknownKey:
		return "kid names no verifying key"
	case reasonKeyUnusable:
		return "verifying key does not match its algorithm"
	case reasonKeyChanged:
		return "verifying key changed since the token was cached"
	case reasonAlgorithm:
		return "alg differs from the key's algorithm"
	case reasonSignature:
		return "signature does not verify"
	case reasonClaimsJSON:
		return "claims are not a flat JSON object of strings and integers"
	case reasonClaimUnknown:
		return "unknown claim"
	case reasonClaimDuplicate:
		return "claim repeated"
	case reasonClaimMissing:
		return "required claim missing"
	case reasonClaimType:
		return "claim has the wrong JSON type"
	case reasonIssuer:
		return "wrong issuer"
	case reasonAudience:
		return "wrong audience"
	case reasonSubject:
		return "malformed subject"
	case reasonSession:
		return "malformed session id"
	case reasonID:
		return "malformed jti"
	case reasonScope:
		return "malformed scope"
	case reasonExpired:
		return "expired"
	case reasonNotYetValid:
		return "not valid yet (nbf)"
	case reasonIssuedInFuture:
		return "issued in the future (iat)"
	case reasonLifetime:
		return "lifetime (exp - iat) is not in (0, Lifetime]"
	case reasonRevoked:
		return "revoked"
	}
	return "unknown reason"
}
