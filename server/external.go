package server

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// External identities (tokens of an external OpenID provider, package
// oidc): a subject sub of the issuer iss stands for the user record
// named ExternalUsername(iss, sub), provisioned with the password hash
// ExternalPasswordHash(iss, sub), which no password verifies.

// ExternalUsernamePrefix starts every username derived from an external
// identity.
const ExternalUsernamePrefix = "ext-"

// externalPasswordPrefix starts the password hash of a user provisioned
// for an external identity: not a PHC or bcrypt string, so no password
// ever verifies against it.
const externalPasswordPrefix = "!external$"

// externalDigest is SHA-256(iss || 0x00 || sub): the NUL keeps ("a",
// "b:c") and ("a:b", "c") apart (neither may contain a NUL).
func externalDigest(iss, sub string) [32]byte {
	return sha256.Sum256([]byte(iss + "\x00" + sub))
}

// ExternalUsername is the username of the user record of the external
// identity (iss, sub): "ext-" and 26 lowercase base32 characters of its
// digest (130 bits). It is its own canonical form (CanonicalUsername
// returns it unchanged: ASCII lowercase letters, digits and "-"), so
// PRECIS mapping can never make two identities, or an identity and a
// local name spelled differently, meet; whatever the issuer and subject
// hold (Unicode, spaces, "@", control characters), none of it reaches
// the username.
func ExternalUsername(iss, sub string) string {
	d := externalDigest(iss, sub)
	return ExternalUsernamePrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(d[:])[:26])
}

// ExternalPasswordHash is the stored password hash of the user
// provisioned for (iss, sub): it binds the record to that identity (a
// local account that happens to bear the name is not taken for it) and
// matches no password.
func ExternalPasswordHash(iss, sub string) string {
	d := externalDigest(iss, sub)
	return externalPasswordPrefix + hex.EncodeToString(d[:])
}

// IsExternalPasswordHash reports whether h is the password hash of a user
// provisioned for an external identity (no password logs in).
func IsExternalPasswordHash(h string) bool { return strings.HasPrefix(h, externalPasswordPrefix) }
