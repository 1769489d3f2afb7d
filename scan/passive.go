package scan

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Patterns of verbose errors.
var (
	reStack  = regexp.MustCompile(`Traceback \(most recent call last\)|File "[^"]+\.py", line \d+|goroutine \d+ \[[a-z ]+\]:|\.go:\d+ \+0x[0-9a-f]+|at [A-Za-z0-9_.$]+\([A-Za-z0-9_]+\.java:\d+\)|\bat [^\s()]+ \((?:/|[A-Za-z]:\\)[^)]+:\d+:\d+\)|[A-Za-z.]+Exception: .*\n\s+at |System\.[A-Za-z.]+Exception|in /[^\s"]+\.php on line \d+`)
	rePath   = regexp.MustCompile(`(?:^|[\s"'(=])(/(?:home|usr|var|opt|app|srv|root|tmp|go/src|code|workspace)/[A-Za-z0-9_.@/-]+\.(?:py|go|js|ts|rb|php|java|cs|rs|db|sqlite3?))\b|[A-Za-z]:\\\\?[A-Za-z0-9_ .\\-]+\.(?:py|cs|js|php|java)\b`)
	reSQLErr = regexp.MustCompile(`(?i)you have an error in your sql syntax|sqlite3?\.OperationalError|SQLITE_ERROR|sqlite error|unrecognized token: |near "[^"]*": syntax error|syntax error at or near|unterminated quoted string|pq: |psycopg2?\.|PG::SyntaxError|SQLSTATE\[|ORA-\d{5}|Microsoft OLE DB Provider|ODBC SQL Server Driver|Unclosed quotation mark|quoted string not properly terminated|mysql_fetch|MySqlException|SqlException|java\.sql\.SQLException|org\.hibernate|sqlalchemy\.exc|incomplete input|no such column|no such table|unknown column`)
)

// secretKeys are response fields that must never be returned.
func secretKey(k string) bool {
	switch strings.ToLower(strings.ReplaceAll(k, "-", "_")) {
	case "password", "passwd", "pwd", "password_hash", "hashed_password", "passwordhash", "pass_hash", "pwd_hash", "hash_password",
		"secret", "client_secret", "secret_key", "secretkey", "api_secret", "private_key", "privatekey", "salt", "password_salt",
		"otp_secret", "totp_secret", "mfa_secret", "jwt_secret", "signing_key", "aws_secret_access_key", "db_password", "database_url":
		return true
	}
	return false
}

var reHashValue = regexp.MustCompile(`^\$(?:argon2(?:id|i|d)?|2[abxy]?|pbkdf2[a-z0-9_-]*|scrypt|6|5|1)\$`)

// passive looks at every answer for verbose errors and secrets.
func (s *scanner) passive(r req, res *resp) {
	if r.noPassive || len(res.body) == 0 {
		return
	}
	body := string(res.body)
	if s.enabled("ERROR-VERBOSE") {
		if m := reStack.FindString(body); m != "" {
			s.report("ERROR-VERBOSE", r.op, "", "stack trace in the answer: "+truncate(m, 120)+"\n"+excerpt(res))
		} else if res.status >= 400 {
			if m := rePath.FindString(body); m != "" {
				s.report("ERROR-VERBOSE", r.op, "", "server file path in an error: "+strings.TrimSpace(m)+"\n"+excerpt(res))
			} else if m := reSQLErr.FindString(body); m != "" && !r.sqli {
				s.report("ERROR-VERBOSE", r.op, "", "database error in an error answer: "+m+"\n"+excerpt(res))
			}
		}
	}
	if s.enabled("EXPOSURE-SECRET-FIELD") && res.ok() && res.isJSON() && r.path != s.tokenURL {
		var v any
		if json.Unmarshal(res.body, &v) != nil {
			return
		}
		created := r.method == "POST" && res.status == 201
		if k, val := findSecret(v, created, 0); k != "" {
			s.report("EXPOSURE-SECRET-FIELD", r.op, k, "the answer carries "+k+" = "+mask(val)+"\n"+excerpt(res))
		}
	}
}

// findSecret returns the first secret field in v. In the answer to a
// creation (created), secrets and keys shown once are expected; password
// fields and hashes are not.
func findSecret(v any, created bool, depth int) (string, string) {
	if depth > 8 {
		return "", ""
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			str, isStr := val.(string)
			if isStr && str != "" && secretKey(k) {
				lk := strings.ToLower(k)
				if !(created && (strings.Contains(lk, "secret") || strings.Contains(lk, "key"))) {
					return k, str
				}
			}
			if isStr && reHashValue.MatchString(str) {
				return k, str
			}
			if isStr && strings.Contains(str, "PRIVATE KEY-----") {
				return k, str
			}
			if k == "d" && isStr && x["kty"] != nil {
				return "d (private JWK)", str
			}
			if kk, vv := findSecret(val, created, depth+1); kk != "" {
				return kk, vv
			}
		}
	case []any:
		for _, e := range x {
			if kk, vv := findSecret(e, created, depth+1); kk != "" {
				return kk, vv
			}
		}
	}
	return "", ""
}
