// Package apikey implements fortapi's API keys: long-lived, scoped
// credentials for machines, shown once and stored only as a hash.
//
// # Format
//
// A key is 70 ASCII characters:
//
//	fak_<id>_<secret><checksum>
//
// "fak_" is a fixed prefix, so that secret scanners (GitHub push
// protection, gitleaks, trufflehog) can recognise a leaked key; <id> is 16
// random base62 characters (about 95 bits) naming the key in the store and
// in URLs such as DELETE /users/me/api-keys/{id}; <secret> is 43 random
// base62 characters (256 bits); <checksum> is the CRC-32 (IEEE) of
// everything before it, as 6 base62 digits. Parse checks the checksum, so
// a mistyped or truncated key is refused without a store read.
//
// # What it defends against
//
//   - Keys in clear in the database: only Hasher.Hash of the key is stored
//     (HMAC-SHA-256 under a server key), compared in constant time
//     (Hasher.Verify). The secret has 256 bits of entropy, so a fast hash
//     is enough: there is nothing to brute-force.
//   - Lookups driven by garbage: Parse refuses anything that is not
//     exactly a key (length, alphabet, prefix, checksum) before a store
//     sees its id.
//   - Keys in URLs, where proxies, browsers and access logs keep them:
//     RefuseInURL answers 400 to a request whose path or query holds a
//     key, before anything logs it. FromRequest reads keys only from the
//     Authorization header (Bearer) and the X-API-Key header.
//   - Ambiguous requests: two keys, or a key in X-API-Key next to an
//     Authorization header, are refused (ErrAmbiguous).
//   - Use from the wrong network: Allowlist restricts a key to CIDR
//     prefixes, matched against an address the caller resolved (with
//     clientip: forwarding headers only from trusted proxies).
//
// Defaults: none to configure; a Hasher needs a key of at least
// MinHashKeyBytes.
package apikey
