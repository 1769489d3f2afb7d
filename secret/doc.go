// Package secret keeps keys, passwords and tokens out of logs, error
// messages and API responses, loads them the way containers and
// orchestrators hand them over, and refuses weak ones.
//
// What it defends against:
//
//   - Secrets printed by accident: a Secret prints, marshals and logs as
//     [REDACTED] through every path (fmt verbs, %#v, encoding/json,
//     encoding.TextMarshaler users, log/slog), also as a field of another
//     struct; only Reveal and RevealString return the bytes.
//   - Secrets in logs: NewRedactingHandler wraps any slog.Handler and
//     redacts attributes with sensitive keys (password, token, secret,
//     authorization, cookie, csrf, api key, private key ...) and scrubs
//     JWTs, Bearer and Basic credentials and key=value pairs with
//     sensitive keys from messages and string values.
//   - Secrets in source code and in the environment of every child
//     process: FromEnv also reads NAME_FILE (Docker and Kubernetes
//     secrets), warns when that file is readable by others, and never puts
//     the value into an error.
//   - Published example secrets and weak keys: CheckStrength refuses known
//     tutorial and default secrets (among them the FastAPI guide's
//     "hello-from-escape-team", "staysecureyourescapeteam" and
//     "asecrettoeverybody", and "changeme", "secret", jwt.io's
//     "your-256-bit-secret"), keys shorter than required and low-entropy
//     patterns.
//   - Non-cryptographic randomness: LoadOrGenerate draws development
//     secrets from crypto/rand and keeps them in a 0600 file.
//
// Defaults:
//
//   - Redacted text: "[REDACTED]".
//   - FromEnv/FromFile: at most MaxFileSize (64 KiB), exactly one trailing
//     "\n" or "\r\n" removed, empty and non-regular files refused, a
//     warning for file modes with any group or other bit (mode & 0o077),
//     NAME and NAME_FILE both set refused, neither set is ErrNotSet.
//     Environment values are used verbatim.
//   - LoadOrGenerate: crypto/rand, standard base64 plus a newline, file
//     mode 0600, directory mode 0700, exclusive creation (temporary file
//     and hard link; O_EXCL where hard links are unavailable).
//   - DecodeKey: 2n hex digits or base64 (standard or URL, padded or not)
//     of exactly n bytes.
//   - CheckStrength: use MinKeyBytes (32) for signing, HMAC and master
//     keys; hex and base64 text counts as the bytes it encodes.
//   - NewRedactingHandler: the sensitive key fragments and the exempt
//     suffixes listed there; extend them with WithSensitiveKeys and
//     WithAllowedKeys. A key like token_count is deliberately not redacted
//     (it ends in "count"), while tokenizer would be: false positives are
//     preferred to leaks.
//
// Limits: Go cannot guarantee that a secret's bytes are wiped from memory
// (the garbage collector may have copied them), so this package does not
// pretend to. The redacting handler cannot see inside arbitrary structs
// logged with slog.Any; log such values through LogValue methods. A
// server's one-time initial admin password is meant to reach the operator,
// so it should be written to stderr directly, not through slog.
package secret
