// Package jwtkey keeps the keys that sign and verify access tokens: a Ring
// of keys with random kids that rotates without logging anyone out,
// persists private keys encrypted, and publishes the public ones as a JWKS.
//
// # Life of a key
//
// A key moves next -> active -> retiring -> retired:
//
//   - next: generated ahead of time (at the previous rotation) and
//     published in the JWKS, so relying parties that cache the JWKS know
//     it before any token carries it. It does not sign, but it verifies:
//     several servers share one Store, and when one of them rotates, its
//     peers still hold that key as next until they reload. Accepting it
//     means a token the rotating server signs right after the rotation
//     verifies on every peer at once: rotation opens no window in which a
//     peer refuses a valid token. The key is ours like the active one: its
//     private half is sealed under the master key, so only a Ring that
//     holds the master key can sign with it.
//   - active: the one key that signs (Signer); it also verifies.
//   - retiring: stopped signing at RetiringAt; still verifies and stays
//     published until RetiredAt = RetiringAt + MaxTokenLifetime + Leeway,
//     when every token it signed has expired. This is why rotation logs no
//     one out.
//   - retired: neither signs, verifies nor is published; its sealed
//     private key is erased from the store.
//
// Any key can be revoked (Revoke, the `keys revoke` emergency path): it
// stops verifying and leaves the JWKS at once, its private material is
// erased, and revocation is final. Revoking the active key promotes the
// next key immediately and creates a new next key; tokens signed by the
// revoked key fail from then on.
//
// Rotate rotates on demand; Maintain, called periodically by a server,
// reloads the store (picking up what the CLI did), retires keys whose time
// is up and rotates when the active key has signed for RotateEvery.
//
// # What it defends against
//
//   - Key compromise: Revoke withdraws a key everywhere the Ring is used
//     (other processes at their next Reload/Maintain), without waiting for
//     its tokens to expire. Regular rotation bounds how long a silently
//     leaked key is useful.
//   - Logging users out on rotation: retiring keys verify until every
//     token they signed has expired; the next key is published, and
//     verifies, from its creation, one rotation before it signs, so every
//     Ring that has loaded the Store since then accepts its tokens.
//   - Algorithm confusion: each key is bound to one algorithm (stored with
//     it and authenticated with its sealed material). Verifiers must take
//     the algorithm from the VerifyingKey found by kid, never from the
//     token header; an HMAC secret is never handed out as a public key.
//   - Private keys at rest: private keys (PKCS#8 DER, or the raw HMAC key)
//     are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
//     the 32-byte master key, with a random nonce, and authenticated
//     together with their kid, algorithm and public key, so a sealed blob
//     copied to another row, relabelled or paired with a substituted public
//     key does not open. A wrong master key is reported as
//     ErrWrongMasterKey; damage as ErrCorruptKey. Neither panics.
//   - Publishing secrets: HS256 keys are symmetric and never appear in the
//     JWKS; no JWK carries a private member ("d").
//   - Guessable or injectable kids: kids are 128 random bits (base64url),
//     never derived from key material or any input. Verifier refuses empty
//     and over-long kids before any lookup.
//   - Weak HMAC keys: HS256 keys are 32 random bytes; NewHMACKey and
//     loading refuse shorter ones (ErrWeakKey).
//
// The store is trusted for the integrity of states and times. Someone who
// can write to it cannot read a private key or plant a key of their own
// without the master key, but can delete keys, lengthen a retiring key's
// verification period, restore a row copied earlier (a revoked key from a
// backup, say) or make loading fail.
//
// # Defaults
//
// Options.Alg EdDSA (Ed25519); RotateEvery 30 days (minimum one minute);
// MaxTokenLifetime 15 minutes; Leeway 30 seconds; Now time.Now; Rand
// crypto/rand; Logger none. MasterKey (exactly 32 bytes, not all zero)
// and Store are required. MemoryStore is a Store for tests and single
// processes; a server implements Store on its database, following the
// rules documented on Store.
//
// Hot paths: Signer and Verifier read an immutable snapshot through an
// atomic pointer; Verifier is a map lookup that does not allocate.
package jwtkey
