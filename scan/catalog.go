package scan

// Rule is one kind of finding: its stable id and what is known about it
// before any scan (the SARIF rules are made from these).
type Rule struct {
	ID          string
	Title       string
	Category    string // transport, headers, authn, jwt, authz, input, exposure
	Severity    Severity
	OWASP       string   // "API8:2023"
	CWE         []string // "CWE-319"
	Description string   // what the check looks for
	Fix         string
}

// Categories are the check groups, in the order they run. --checks takes
// these names or finding ids.
func Categories() []string {
	return []string{"transport", "headers", "authn", "jwt", "authz", "input", "exposure"}
}

// Rules is the catalog of findings, in report order. Each call returns a
// fresh slice.
func Rules() []Rule {
	return []Rule{
		// transport
		{"TLS-LEGACY-PROTOCOL", "TLS 1.0 or 1.1 accepted", "transport", Medium, "API8:2023", []string{"CWE-327", "CWE-757"},
			"A TLS handshake limited to TLS 1.0 or 1.1 succeeds.",
			"Accept TLS 1.2 and 1.3 only (Go: tls.Config.MinVersion = tls.VersionTLS12)."},
		{"TLS-WEAK-CIPHER", "Non-AEAD (CBC, RC4, 3DES) cipher suite accepted", "transport", Medium, "API8:2023", []string{"CWE-327"},
			"A TLS 1.2 handshake offering only CBC, RC4 or 3DES suites succeeds.",
			"Offer only ECDHE suites with AES-GCM or ChaCha20-Poly1305 for TLS 1.2 (TLS 1.3 suites are all AEAD)."},
		{"TLS-CERT-INVALID", "Invalid TLS certificate", "transport", Medium, "API8:2023", []string{"CWE-295"},
			"The certificate is expired, not yet valid, issued for another name, or not trusted (the last is not reported with --insecure).",
			"Serve a certificate from a trusted CA for the API's host name, and renew it before it expires (ACME)."},
		{"HTTP-NO-REDIRECT", "Plain HTTP serves the API instead of redirecting to HTTPS", "transport", Medium, "API8:2023", []string{"CWE-319"},
			"The plain-HTTP port answers an API request with content instead of a redirect to HTTPS.",
			"Answer every plain-HTTP request with a permanent redirect (301/308) to the HTTPS URL, and serve nothing over HTTP."},
		{"HSTS-MISSING", "HTTPS answers without Strict-Transport-Security", "transport", Medium, "API8:2023", []string{"CWE-319", "CWE-523"},
			"An HTTPS response has no Strict-Transport-Security header with a positive max-age.",
			"Send Strict-Transport-Security: max-age=63072000; includeSubDomains on every HTTPS response."},
		// headers
		{"HDR-NOSNIFF-MISSING", "X-Content-Type-Options: nosniff missing", "headers", Low, "API8:2023", []string{"CWE-693"},
			"A response has no X-Content-Type-Options: nosniff, so a browser may sniff JSON or text as HTML.",
			"Send X-Content-Type-Options: nosniff on every response."},
		{"HDR-FRAMING-MISSING", "HTML can be framed (no X-Frame-Options or frame-ancestors)", "headers", Low, "API8:2023", []string{"CWE-1021"},
			"An HTML response has neither X-Frame-Options nor a CSP frame-ancestors directive (clickjacking).",
			"Send X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none' on HTML."},
		{"HDR-CSP-MISSING", "HTML without Content-Security-Policy", "headers", Low, "API8:2023", []string{"CWE-693"},
			"An HTML response has no Content-Security-Policy header.",
			"Send a strict Content-Security-Policy (default-src 'none' or 'self', no 'unsafe-inline' scripts) on HTML."},
		{"HDR-SERVER-BANNER", "Server version banner", "headers", Low, "API8:2023", []string{"CWE-200"},
			"A Server, X-Powered-By or X-AspNet-Version header names a product version.",
			"Remove version numbers from Server and drop X-Powered-By."},
		{"CORS-REFLECT-ORIGIN", "CORS reflects any Origin with credentials", "headers", High, "API8:2023", []string{"CWE-942", "CWE-346"},
			"An arbitrary Origin is echoed in Access-Control-Allow-Origin together with Access-Control-Allow-Credentials: true.",
			"Allow only a fixed list of trusted origins, compared exactly; never echo the Origin header."},
		{"CORS-NULL-ORIGIN", "CORS allows Origin: null with credentials", "headers", Medium, "API8:2023", []string{"CWE-942"},
			"Origin: null (sandboxed frames, file: pages) is allowed with credentials.",
			"Never allow the null origin."},
		{"CORS-WILDCARD-CREDENTIALS", "CORS wildcard with credentials", "headers", Low, "API8:2023", []string{"CWE-942"},
			"Access-Control-Allow-Origin: * is sent together with Access-Control-Allow-Credentials: true.",
			"Use a fixed origin list when credentials are allowed; * only for public, credential-less data."},
		// authn
		{"AUTH-MISSING", "Protected operation answers without credentials", "authn", Critical, "API2:2023", []string{"CWE-306"},
			"An operation the OpenAPI document declares as protected answers 2xx to a request without credentials.",
			"Enforce the declared security requirement on every operation, deny by default."},
		{"AUTH-GARBAGE-TOKEN", "Protected operation accepts a garbage bearer token", "authn", Critical, "API2:2023", []string{"CWE-287"},
			"An operation declared as protected answers 2xx to a random bearer token.",
			"Verify every bearer token (signature, expiry, issuer, audience) and answer 401 otherwise."},
		{"AUTH-USER-ENUMERATION", "Login reveals whether a username exists", "authn", Medium, "API2:2023", []string{"CWE-204", "CWE-203"},
			"The login answers an unknown username differently (status, body or timing) from a known username with a wrong password.",
			"Answer both cases identically, and verify a dummy password hash for unknown users so the timing matches."},
		{"AUTH-NO-LOGIN-RATE-LIMIT", "No rate limit on failed logins", "authn", Medium, "API2:2023", []string{"CWE-307"},
			"Many failed logins for one (throwaway) username are never slowed down or refused.",
			"Throttle failed logins per username and per client (growing delays, 429 with Retry-After), without locking the owner out (device cookies)."},
		// jwt
		{"JWT-ALG-NONE", "JWT with alg none accepted", "jwt", Critical, "API2:2023", []string{"CWE-347", "CWE-327"},
			"An unsigned token (alg none, None, NONE) is accepted.",
			"Verify with an algorithm fixed by the key (golang-jwt: jwt.WithValidMethods), never the token's alg."},
		{"JWT-SIGNATURE-NOT-VERIFIED", "JWT signature not verified", "jwt", Critical, "API2:2023", []string{"CWE-347"},
			"A token whose payload was changed after signing, with the original signature, is accepted.",
			"Verify the signature of every token before reading its claims (never decode without verifying)."},
		{"JWT-ALG-CONFUSION", "JWT algorithm confusion (HS256 keyed with a public key)", "jwt", Critical, "API2:2023", []string{"CWE-347", "CWE-327"},
			"A token signed with HS256 using a public key from the JWKS as the HMAC secret is accepted.",
			"Bind each key to one algorithm and take the algorithm from the key, never from the token header."},
		{"JWT-WEAK-SECRET", "JWT HMAC secret is guessable", "jwt", High, "API2:2023", []string{"CWE-521", "CWE-798"},
			"The HS256/384/512 secret of an issued token is in a list of common secrets (checked offline).",
			"Use a random secret of at least 256 bits from a secret store, or an asymmetric key (EdDSA, ES256)."},
		{"JWT-EXPIRED-ACCEPTED", "Expired JWT accepted", "jwt", Critical, "API2:2023", []string{"CWE-613"},
			"A correctly signed token whose exp is in the past is accepted (tested when the scan knows a working key).",
			"Require and check exp (golang-jwt: jwt.WithExpirationRequired), with at most a small leeway."},
		{"JWT-NBF-IGNORED", "JWT not-before ignored", "jwt", Critical, "API2:2023", []string{"CWE-613"},
			"A correctly signed token whose nbf is an hour ahead is accepted (tested when the scan knows a working key).",
			"Check nbf and iat; refuse tokens from the future."},
		{"JWT-KID-INJECTION", "JWT kid header injection", "jwt", Critical, "API2:2023", []string{"CWE-22", "CWE-89", "CWE-347"},
			"A kid naming a file by path traversal (/dev/null: empty key) or a SQL injection returning a chosen key yields an accepted token.",
			"Treat kid as an opaque identifier looked up in a fixed key set; never use it in a path or a query."},
		{"JWT-HEADER-KEY-TRUST", "JWT key taken from the token header (jwk/x5c/jku/x5u)", "jwt", Critical, "API2:2023", []string{"CWE-347"},
			"A token signed with the scanner's own key, published in the token's jwk or x5c header, is accepted.",
			"Verify only with keys from the server's own configuration; ignore jwk, jku, x5c and x5u headers."},
		// authz
		{"BOLA-READ", "Broken object level authorization: read", "authz", High, "API1:2023", []string{"CWE-639"},
			"User B reads an object user A created, by its id.",
			"Check ownership in every object query (WHERE id = ? AND owner_id = ?), answer 404 to others."},
		{"BOLA-WRITE", "Broken object level authorization: write", "authz", High, "API1:2023", []string{"CWE-639"},
			"User B changes or deletes an object user A created, by its id.",
			"Check ownership in every update and delete, in the same statement."},
		{"BFLA", "Broken function level authorization", "authz", High, "API5:2023", []string{"CWE-285"},
			"A non-admin user calls an operation that needs an admin scope, or that the document marks as admin, and gets 2xx.",
			"Enforce the operation's required scope or role centrally, deny by default."},
		{"MASS-ASSIGNMENT", "Mass assignment of privileged fields", "authz", High, "API3:2023", []string{"CWE-915"},
			"A request body field the schema does not allow (owner, owner_id, role, is_admin, id ...) is accepted and applied.",
			"Decode request bodies into dedicated input types without privileged fields, and reject unknown fields."},
		// input
		{"INPUT-5XX", "Invalid input answered 5xx", "input", Medium, "API8:2023", []string{"CWE-20", "CWE-755"},
			"A request violating the schema (wrong type, out of bounds, unknown field) is answered with 5xx instead of 4xx.",
			"Validate every parameter and body against its schema and answer 400/422 with the field."},
		{"SQLI-ERROR", "SQL injection (error-based)", "input", Critical, "API8:2023", []string{"CWE-89"},
			"A quote in a parameter produces a database error message.",
			"Use parameterized queries only; never build SQL from input."},
		{"SQLI-BOOLEAN", "SQL injection (boolean-based)", "input", Critical, "API8:2023", []string{"CWE-89"},
			"Appending a true and a false SQL condition to a parameter changes the answer consistently.",
			"Use parameterized queries only; never build SQL from input."},
		{"SQLI-TIME", "SQL injection (time-based)", "input", Critical, "API8:2023", []string{"CWE-89"},
			"A SQL sleep in a parameter delays the answer by the requested time, twice, while the control does not.",
			"Use parameterized queries only; never build SQL from input."},
		{"XSS-REFLECTED", "Reflected cross-site scripting", "input", Medium, "API8:2023", []string{"CWE-79"},
			"A unique HTML marker sent in a parameter comes back unescaped in an HTML (or untyped) response.",
			"Escape output for its context (html/template), send JSON as application/json with nosniff."},
		{"ERROR-VERBOSE", "Verbose error (stack trace, SQL error or file path)", "input", Medium, "API8:2023", []string{"CWE-209"},
			"A response contains a stack trace, a database error or a server file path.",
			"Log details on the server; answer a generic problem (RFC 9457) with a request id."},
		{"BODY-OVERSIZED", "Oversized body accepted", "input", Medium, "API4:2023", []string{"CWE-770"},
			"A 10 MiB request body is accepted (2xx) or answered 5xx instead of 413.",
			"Cap request bodies (http.MaxBytesReader, 1 MiB or what the operation needs) and answer 413."},
		// exposure
		{"EXPOSURE-DEBUG-ENDPOINT", "Debug or environment endpoint reachable", "exposure", Medium, "API8:2023", []string{"CWE-215", "CWE-489"},
			"A debug, profiling or environment endpoint (/debug, /debug/pprof, /env, /.env, /actuator ...) answers 200.",
			"Do not serve debug endpoints on the public listener (bind them to a private admin address)."},
		{"EXPOSURE-SECRET-FIELD", "Secret or internal field in a response", "exposure", High, "API3:2023", []string{"CWE-200", "CWE-213"},
			"A response carries a password hash, a password, a secret or a private key.",
			"Return dedicated output types that have no field for secrets."},
		{"INFO-NOTE", "Scan note", "inventory", Info, "API9:2023", nil,
			"An inventory note: something the scan could not test, or what it saw. Never a flaw.",
			"Nothing to fix."},
	}
}
