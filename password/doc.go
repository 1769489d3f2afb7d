// Package password hashes and verifies passwords and checks new ones against
// a policy.
//
// # What it defends against
//
//   - Offline cracking of a stolen user table: new hashes are argon2id
//     (memory-hard) with a random 16-byte salt per password, stored as PHC
//     strings; NewHasher refuses parameters weaker than OWASP's minimum.
//   - Legacy hashes: bcrypt ($2a$, $2b$, $2y$, as written by passlib and the
//     FastAPI tutorial) still verifies, and NeedsRehash tells the caller to
//     replace it (and outdated argon2id parameters) with a new Hash at the
//     next successful login, as passlib's deprecated="auto" does.
//   - Timing user enumeration: VerifyDummy spends the same argon2id work as
//     a real verification, so an unknown username costs as long as a wrong
//     password; argon2id hashes are compared in constant time.
//   - Login floods starving CPU and memory: a Hasher runs at most
//     MaxConcurrent computations (argon2id holds 19 MiB while it runs) and
//     lets at most MaxQueue callers wait, each at most QueueTimeout. Others
//     get a *BusyError (errors.Is ErrBusy) with a RetryAfter for a 503
//     answer. Passwords longer than MaxPasswordBytes are never hashed.
//   - Hostile or corrupt stored hashes: parsing is strict and bounded
//     (MaxMemoryKiB, MaxTime, MaxThreads, salt and hash lengths,
//     MaxBcryptCost), so a stored string cannot make verification allocate
//     gigabytes or run for hours; anything else is ErrMalformedHash, never a
//     panic.
//   - Weak passwords: Policy follows NIST SP 800-63B: a minimum length, no
//     composition rules, no common passwords (the embedded SecLists 10,000
//     list), not the username, no context-specific forbidden words.
//
// # Unicode
//
// Hash, Verify, VerifyDummy and Policy all work on the NFKC normalization
// of the password (golang.org/x/text/unicode/norm), so the same password
// typed as composed or decomposed characters, or with fullwidth letters from
// an East Asian keyboard, is the same password. Policy and the common-list
// comparisons additionally fold case. Because bcrypt hashes come from
// systems that did not normalize, Verify also tries the password exactly as
// given against a bcrypt hash when it differs from its NFKC form.
//
// # Defaults
//
//   - argon2id: m=19456 KiB (19 MiB), t=2, p=1, 16-byte salt, 32-byte hash,
//     version 19; these are also the minimums (Params). The one exception,
//     HasherOptions.InsecureTestParams (m=8 KiB, t=1), is for the tests of
//     code that uses a Hasher, and NewHasher refuses it outside a test
//     binary.
//   - PHC string: $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH, unpadded
//     standard base64.
//   - Stored hashes accepted by Verify: argon2id v=19 with m <= 262144 KiB
//     (256 MiB), 1 <= t <= 16, 1 <= p <= 16, m >= 8*p, 8..64-byte salt,
//     16..64-byte hash; bcrypt $2a$/$2b$/$2y$ with cost 4..16.
//   - Hasher: MaxConcurrent = runtime.GOMAXPROCS(0), MaxQueue = 64,
//     QueueTimeout = 2 s, Rand = crypto/rand.Reader. BusyError.RetryAfter
//     is the estimated time to drain the queue, in whole seconds, 1..60 s.
//   - Passwords: at most MaxPasswordBytes = 1024 bytes, before and after
//     NFKC. bcrypt ignores bytes beyond 72, so Verify answers "no match" for
//     a longer password against a bcrypt hash instead of matching on a
//     prefix.
//   - Policy: at least 8 characters (code points, both after NFKC and as
//     typed), at most 1024 bytes, valid UTF-8, not a common password, not
//     equal to the username (case-insensitive after NFKC), no forbidden
//     words (PolicyOptions.Forbidden, matched anywhere in the password).
//
// # Use at login
//
//	user, found := store.Lookup(username)
//	if !found {
//		err := hasher.VerifyDummy(ctx, pw) // same cost as a wrong password
//		... answer "invalid username or password" (or 503 on *BusyError)
//	}
//	ok, err := hasher.Verify(ctx, pw, user.Hash)
//	if ok && hasher.NeedsRehash(user.Hash) {
//		newHash, err := hasher.Hash(ctx, pw) // then store it
//	}
package password
