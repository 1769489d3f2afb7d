package scan

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// mask keeps a short prefix of a secret: enough to recognise it, not to
// use it.
func mask(v string) string {
	if len(v) <= 6 {
		return "****"
	}
	return v[:4] + "…(" + strconv.Itoa(len(v)) + " chars)"
}

func maskHeader(name, v string) string {
	switch strings.ToLower(name) {
	case "authorization":
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			return mask(v)
		}
		return scheme + " " + mask(cred)
	case "cookie", "set-cookie":
		parts := strings.Split(v, ";")
		for i, p := range parts {
			if i > 0 && strings.EqualFold(name, "set-cookie") {
				break // attributes of the one cookie
			}
			if k, val, ok := strings.Cut(p, "="); ok {
				parts[i] = k + "=" + mask(val)
			}
		}
		return strings.Join(parts, ";")
	case "x-api-key":
		return mask(v)
	}
	return maskBody(v)
}

var (
	reSecretJSON = regexp.MustCompile(`(?i)("(?:[a-z_]*password[a-z_]*|passwd|[a-z_]*token|[a-z_]*secret[a-z_]*|api_?key|key|private_?key|salt|ticket)"\s*:\s*")((?:[^"\\]|\\.)*)(")`)
	reSecretForm = regexp.MustCompile(`(?i)\b((?:password|passwd|[a-z_]*token|[a-z_]*secret|api_?key|ticket)=)([^&\s"]*)`)
	reJWT        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	reHash       = regexp.MustCompile(`\$(?:argon2(?:id|i|d)?|2[abxy]?|pbkdf2[a-z0-9_-]*|scrypt|6|5)\$[A-Za-z0-9+/=$.,_-]{8,}`)
	rePrivateKey = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
)

// maskBody masks passwords, tokens, secrets, JWTs, password hashes and
// private keys in a request or response excerpt.
func maskBody(s string) string {
	s = rePrivateKey.ReplaceAllString(s, "-----BEGIN PRIVATE KEY----- (masked)")
	s = reJWT.ReplaceAllStringFunc(s, mask)
	s = reHash.ReplaceAllStringFunc(s, mask)
	s = reSecretJSON.ReplaceAllStringFunc(s, func(m string) string {
		p := reSecretJSON.FindStringSubmatch(m)
		if strings.HasPrefix(p[2], "****") || strings.Contains(p[2], "…(") {
			return m
		}
		return p[1] + mask(p[2]) + p[3]
	})
	s = reSecretForm.ReplaceAllStringFunc(s, func(m string) string {
		p := reSecretForm.FindStringSubmatch(m)
		return p[1] + mask(p[2])
	})
	return s
}

// maskQuery masks secrets in a request URI's query.
func maskQuery(uri string) string {
	path, q, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return path + "?" + maskBody(q)
	}
	return path + "?" + maskBody(vals.Encode())
}
