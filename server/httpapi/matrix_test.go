package httpapi_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
)

// The authorization matrix: every operation of the live /openapi.json ×
// every kind of caller. The expected answer of each cell follows only from
// what the document declares — the operation's security requirements and
// its x-object-access rule — so an operation added to the server is
// covered without editing this test. Exceptions are listed, with their
// reason, in matrixExceptions.

// matrixCaller is one column of the matrix.
type matrixCaller struct {
	name     string
	username string // "" for the anonymous caller
	password string
	scope    []string // narrows the login; nil asks for every role scope
	// owner: the caller owns the fixture objects; other: another user.
	owner, other bool
	// session: the caller is a browser with a cookie session (HTML
	// login) instead of a bearer token; its unsafe requests carry the
	// CSRF token.
	session bool
	// key: the caller sends an API key with these scopes (in X-API-Key,
	// or as a bearer token when keyAsBearer) instead of a token.
	key         []string
	keyAsBearer bool
	// oidc: the caller presents a token of an external identity provider
	// whose scope claim holds these values (and roles, when set), for a
	// subject provisioned at its first request.
	oidc, roles []string
}

// matrixException is an allowed deviation of an authorized call from the
// operation's declared success status.
type matrixException struct {
	status []int
	reason string
}

// matrixExceptions lists, per operationId, the authorized calls that do not
// answer the declared success status, and why.
var matrixExceptions = map[string]matrixException{
	"change-password": {[]int{http.StatusUnprocessableEntity}, "the generated current_password is not the caller's password; " +
		"a successful change is TestPasswordChangeRevokesEverything"},
	"login-submit": {[]int{http.StatusForbidden, http.StatusBadRequest}, "the generated csrf_token is not a token of this " +
		"server (403, login CSRF refused); session callers also send a valid X-CSRF-Token, so their generated credentials " +
		"fail (400); the form's own flow is TestHTMLLogin"},
}

const bobPass = "bob's own long passphrase 7"

// doc is the OpenAPI document as JSON values, with $ref resolution.
type doc struct {
	root    map[string]any
	schemas map[string]any
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func (d doc) resolve(s map[string]any) map[string]any {
	for i := 0; i < 16 && s != nil; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = obj(d.schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
	}
	return s
}

// example builds a valid value for a JSON schema: every property, the
// first enum value, strings of the minimum length made unique by n.
func (d doc) example(s map[string]any, name string, n int) any {
	s = d.resolve(s)
	if s == nil {
		return nil
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch typ {
	case "object":
		out := map[string]any{}
		for k, v := range obj(s["properties"]) {
			if ro, _ := obj(v)["readOnly"].(bool); ro || k == "$schema" {
				continue
			}
			out[k] = d.example(obj(v), k, n)
		}
		return out
	case "array":
		return []any{d.example(obj(s["items"]), name, n)}
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok {
			return m + 1
		}
		return 1
	case "boolean":
		return false
	case "string":
		switch f, _ := s["format"].(string); f {
		case "password":
			return fmt.Sprintf("matrix passphrase %d for %s", n, name)
		case "date-time":
			return time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		}
		if name == "allowed_cidrs" { // a network, which no format names
			return "0.0.0.0/0"
		}
		v := fmt.Sprintf("m%d%s", n, name)
		if ml, ok := s["maxLength"].(float64); ok && len(v) > int(ml) {
			v = v[:int(ml)]
		}
		return v
	}
	return nil
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	idp := newMatrixIDP(t)
	e := newAuthEnvWith(t, envOptions{scale: 100, oidc: idp.set})
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, "bob", bobPass, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	alice, err := e.store.GetUserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	callers := []matrixCaller{
		{name: "anonymous"},
		{name: "reader", username: "alice", password: alicePass, scope: []string{server.ScopeItemsRead}, owner: true},
		{name: "other-user", username: "bob", password: bobPass, other: true},
		{name: "user", username: "alice", password: alicePass, owner: true},
		{name: "admin", username: "root", password: adminPass},
		{name: "other-session", username: "bob", password: bobPass, other: true, session: true},
		{name: "user-session", username: "alice", password: alicePass, owner: true, session: true},
		{name: "admin-session", username: "root", password: adminPass, session: true},
		// API keys: accepted only where the document lists the apikey
		// scheme, with the key's scopes; an administrator's key reaches
		// no administration.
		{name: "reader-key", username: "alice", key: []string{server.ScopeItemsRead}, keyAsBearer: true, owner: true},
		{name: "other-key", username: "bob", key: server.RoleUser.Scopes(), other: true},
		{name: "admin-key", username: "root", key: server.RoleAdmin.Scopes()},
		// External tokens: accepted only where the document lists the
		// oidc scheme, with the mapped scopes the provisioned user's role
		// grants (the admin role claim maps to users:admin, which a user
		// never gets).
		{name: "reader-oidc", username: server.ExternalUsername(idp.issuer, "reader-oidc"), oidc: []string{"items.read"}, other: true},
		{name: "writer-oidc", username: server.ExternalUsername(idp.issuer, "writer-oidc"), oidc: []string{"items.read", "items.write"}, roles: []string{"admin"}, other: true},
	}
	userID := func(name string) string {
		u, err := e.store.GetUserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	// keyFixture stores a key of the user (by id) and returns its id.
	keyFixture := func(uid string) string {
		k, err := apikey.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.store.GetUser(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateAPIKey(ctx, server.APIKey{ID: k.ID, UserID: uid, Name: "fixture", Hash: make([]byte, 32),
			Scopes: []string{server.ScopeItemsRead}, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
			CredentialVersion: u.CredentialVersion}, server.Event{}); err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	// alice owns an item from the start, so that listings have one to leak.
	now := time.Now().UTC().Truncate(time.Microsecond)
	first, _ := server.NewID(now, nil)
	if err := e.store.CreateItem(ctx, server.Item{ID: first, OwnerID: alice.ID, Name: "first", Price: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	login := func(c matrixCaller) {
		if c.oidc != nil {
			tokens[c.name] = idp.token(t, c.name, strings.Join(c.oidc, " "), c.roles...)
			return
		}
		if c.key != nil {
			u, err := e.store.GetUserByName(ctx, c.username)
			if err != nil {
				t.Fatal(err)
			}
			key, _, err := e.svc.CreateAPIKey(ctx, &fortapi.Principal{Subject: u.ID, Scopes: u.Role.Scopes()},
				authn.NewAPIKey{Name: c.name, Scopes: c.key}, "")
			if err != nil {
				t.Fatalf("%s: creating a key: %v", c.name, err)
			}
			tokens[c.name] = key
			return
		}
		if !c.session {
			tokens[c.name] = e.login(c.username, c.password, c.scope...).AccessToken
			return
		}
		ws, err := e.svc.WebLogin(ctx, authn.Login{Username: c.username, Password: c.password})
		if err != nil {
			t.Fatalf("%s: web login: %v", c.name, err)
		}
		tokens[c.name] = ws.Cookie
	}
	// auth is what a caller's request carries: a bearer token, or the
	// session cookie with the CSRF cookie and header bound to it.
	auth := func(c matrixCaller) map[string]string {
		switch {
		case c.username == "":
			return map[string]string{}
		case c.key != nil && c.keyAsBearer, c.oidc != nil:
			return bearer(tokens[c.name])
		case c.key != nil:
			return map[string]string{"X-API-Key": tokens[c.name]}
		case !c.session:
			return bearer(tokens[c.name])
		}
		tok, err := e.csrf.Token(fortapi.CSRFSessionFor(tokens[c.name]))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{
			"Cookie":         fortapi.DefaultSessionCookie + "=" + tokens[c.name] + "; " + csrf.CookieName + "=" + tok,
			csrf.HeaderName:  tok,
			"Sec-Fetch-Site": "same-origin",
		}
	}
	me := func(c matrixCaller) (*http.Response, []byte) { return e.call("GET", "/users/me", "", "", auth(c)) }
	for _, c := range callers[1:] {
		login(c)
	}
	scopesOf := map[string][]string{}
	for _, c := range callers[1:] {
		if c.key != nil {
			scopesOf[c.name] = c.key
			if resp, b := me(c); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: /users/me, which does not declare API keys: %d %s", c.name, resp.StatusCode, b)
			}
			continue
		}
		resp, b := me(c)
		var p httpapi.Profile
		if resp.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("%s: /users/me: %d %s", c.name, resp.StatusCode, b)
		}
		if c.oidc != nil && slices.Contains(p.Scopes, server.ScopeUsersAdmin) {
			t.Fatalf("%s: a provisioned user was granted %s: %v", c.name, server.ScopeUsersAdmin, p.Scopes)
		}
		scopesOf[c.name] = p.Scopes
	}

	resp, raw := e.call("GET", "/openapi.json", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/openapi.json: %d", resp.StatusCode)
	}
	var d doc
	if err := json.Unmarshal(raw, &d.root); err != nil {
		t.Fatal(err)
	}
	d.schemas = obj(obj(d.root["components"])["schemas"])

	var bodies [][]byte // every answer, for the secret scan below
	n := 0
	cells := 0
	paths := obj(d.root["paths"])
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, path := range keys {
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			op := obj(obj(paths[path])[method])
			if op == nil {
				continue
			}
			id, _ := op["operationId"].(string)
			var sec []map[string][]string
			if b, err := json.Marshal(op["security"]); err == nil {
				_ = json.Unmarshal(b, &sec)
			}
			public := slices.ContainsFunc(sec, func(m map[string][]string) bool { return len(m) == 0 })
			ownerRule := obj(op[httpapi.ObjectAccessExtension])
			success := 0
			for code := range obj(op["responses"]) {
				if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 300 && (success == 0 || c < success) {
					success = c
				}
			}
			for _, c := range callers {
				n++
				cells++
				name := fmt.Sprintf("%s_%s/%s", strings.ToUpper(method), path, c.name)
				// Fixtures: a fresh object of the owner for every {id}.
				target, fixtureID := path, ""
				if strings.Contains(path, "{id}") {
					switch {
					case strings.HasPrefix(path, "/items/"):
						now := time.Now().UTC().Truncate(time.Microsecond)
						fixtureID, _ = server.NewID(now, nil)
						if err := e.store.CreateItem(ctx, server.Item{ID: fixtureID, OwnerID: alice.ID, Name: "fixture", Price: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
							t.Fatal(err)
						}
					case strings.HasPrefix(path, "/users/"):
						u, err := e.svc.CreateUser(ctx, fmt.Sprintf("target%d", n), fmt.Sprintf("target passphrase %d", n), server.RoleUser, "test")
						if err != nil {
							t.Fatal(err)
						}
						fixtureID = u.ID
					default:
						t.Fatalf("%s: no fixture for {id} of %s: add one to TestAuthorizationMatrix", name, path)
					}
					target = strings.ReplaceAll(path, "{id}", fixtureID)
				}
				if strings.Contains(target, "{key_id}") {
					// A key of the {id} user, or of the caller's (me).
					owner := fixtureID
					if owner == "" {
						owner = userID(cmp.Or(c.username, "alice"))
					}
					target = strings.ReplaceAll(target, "{key_id}", keyFixture(owner))
				}
				if strings.Contains(target, "{") {
					t.Fatalf("%s: no fixture for a path parameter of %s", name, path)
				}
				ctype, body := "", ""
				if rb := obj(op["requestBody"]); rb != nil {
					content := obj(rb["content"])
					switch {
					case content["application/json"] != nil:
						v := d.example(obj(obj(content["application/json"])["schema"]), "", n)
						b, _ := json.Marshal(v)
						ctype, body = "application/json", string(b)
					case content["application/x-www-form-urlencoded"] != nil:
						v := obj(d.example(obj(obj(content["application/x-www-form-urlencoded"])["schema"]), "", n))
						f := url.Values{}
						for k, x := range v {
							f.Set(k, fmt.Sprint(x))
						}
						ctype, body = form, f.Encode()
					default:
						t.Fatalf("%s: no generator for the request body %v", name, content)
					}
				}
				resp, b := e.call(strings.ToUpper(method), target, ctype, body, auth(c))
				bodies = append(bodies, b)
				got, www := resp.StatusCode, resp.Header.Get("WWW-Authenticate")

				// The requirements the caller's scheme can meet, and
				// whether one of them is met.
				scheme := fortapi.BearerScheme
				switch {
				case c.session:
					scheme = fortapi.SessionScheme
				case c.key != nil:
					scheme = fortapi.APIKeyScheme
				case c.oidc != nil:
					scheme = fortapi.OIDCScheme
				}
				accepted, allowed := false, false
				for _, m := range sec {
					for name, need := range m {
						if name == scheme || (name == fortapi.OAuth2Scheme && scheme == fortapi.BearerScheme) {
							accepted = true
							ok := len(m) == 1
							for _, s := range need {
								ok = ok && slices.Contains(scopesOf[c.name], s)
							}
							allowed = allowed || ok
						}
					}
				}
				ex, isException := matrixExceptions[id]
				seesAll := ownerRule != nil && slices.Contains(scopesOf[c.name], fmt.Sprint(ownerRule["all-with-scope"]))
				var want string
				switch {
				case public && isException:
					want = fmt.Sprintf("%v (public; exception: %s)", ex.status, ex.reason)
					if !slices.Contains(ex.status, got) {
						t.Errorf("%s: %d, want %s: %.200s", name, got, want, b)
					}
				case public:
					want = "not 401, 403 or 5xx (public)"
					if got == 401 || got == 403 || got >= 500 {
						t.Errorf("%s: %d, want %s: %.200s", name, got, want, b)
					}
				case c.username == "" || !accepted:
					want = "401 Bearer (no credentials this operation accepts)"
					if got != 401 || !strings.HasPrefix(www, "Bearer") {
						t.Errorf("%s: %d %q, want %s: %.200s", name, got, www, want, b)
					}
				case !allowed:
					want = "403 insufficient_scope"
					if got != 403 || !strings.Contains(www, `error="insufficient_scope"`) {
						t.Errorf("%s: %d %q, want %s: %.200s", name, got, www, want, b)
					}
				case ownerRule != nil && fixtureID != "" && c.other && !seesAll:
					want = "404 (another user's object)"
					if got != 404 {
						t.Errorf("%s: %d, want %s: %.200s", name, got, want, b)
					}
				default:
					want = strconv.Itoa(success)
					if isException {
						want = fmt.Sprintf("%v (exception: %s)", ex.status, ex.reason)
						if !slices.Contains(ex.status, got) {
							t.Errorf("%s: %d, want %s: %.200s", name, got, want, b)
						}
					} else if got != success {
						t.Errorf("%s: %d, want %s: %.300s", name, got, want, b)
					}
					// A listing shows another user none of the owner's objects.
					if ownerRule != nil && fixtureID == "" && c.other && !seesAll && strings.Contains(string(b), alice.ID) {
						t.Errorf("%s: the listing shows another user's objects: %.300s", name, b)
					}
				}
				t.Logf("%-40s %-10s -> %d (want %s)", strings.ToUpper(method)+" "+path, c.name, got, want)
				// An operation that ended the caller's session (logout,
				// password change) is followed by a fresh login.
				if resp, _ := me(c); c.username != "" && c.key == nil && resp.StatusCode == http.StatusUnauthorized {
					login(c)
				}
			}
		}
	}
	if cells < len(callers)*22 {
		t.Fatalf("only %d cells: the document lists fewer operations than the server has", cells)
	}

	// No answer of the whole matrix holds a secret the server keeps.
	var secrets []string
	for _, name := range []string{"alice", "bob", "root"} {
		u, err := e.store.GetUserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, u.PasswordHash)
		if i := strings.LastIndexByte(u.PasswordHash, '$'); i > 0 {
			secrets = append(secrets, u.PasswordHash[i+1:]) // the raw digest
		}
	}
	secrets = append(secrets, alicePass, adminPass, bobPass,
		hex.EncodeToString(e.master), base64.StdEncoding.EncodeToString(e.master), base64.RawURLEncoding.EncodeToString(e.master))
	keys2, err := e.store.LoadKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys2 {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(k.Sealed), base64.RawURLEncoding.EncodeToString(k.Sealed))
	}
	for _, b := range bodies {
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(string(b), s) {
				t.Errorf("an answer holds a secret (%.6s...): %.200s", s, b)
			}
		}
	}
}

// forbiddenProperty matches property names that would carry a secret or
// an internal field. The allowed exceptions are the tokens POST /token
// hands to the user who just proved their password.
var forbiddenProperty = regexp.MustCompile(`(?i)hash|secret|private|seal|master|passw|salt|owner_id|^d$|^k$|^p$|^q$|^dp$|^dq$|^qi$`)

// TestResponsesCannotCarrySecrets walks the schema of every response of
// every operation (through every $ref, array and property) and refuses a
// property that could carry a password or its hash, a refresh-token hash,
// key material or another internal field; with the validating wrapper of
// the other tests (undeclared properties fail them), nothing else can be
// serialized.
func TestResponsesCannotCarrySecrets(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	_, raw := e.call("GET", "/openapi.json", "", "", nil)
	var d doc
	if err := json.Unmarshal(raw, &d.root); err != nil {
		t.Fatal(err)
	}
	d.schemas = obj(obj(d.root["components"])["schemas"])
	problems, responses := d.secretProperties()
	for _, p := range problems {
		t.Error(p)
	}
	if responses < 20 {
		t.Fatalf("walked only %d responses", responses)
	}

	// The walk finds what it looks for: a document whose response reaches
	// a hash through a $ref, an array and a nested object, and one open
	// to any property, are both caught.
	var bad doc
	if err := json.Unmarshal([]byte(`{
		"paths": {"/u": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}}}}},
		"components": {"schemas": {
			"Page": {"type": "object", "additionalProperties": false, "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
			"User": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"},
				"auth": {"type": "object", "additionalProperties": false, "properties": {"password_hash": {"type": "string"}}}}},
			"Open": {"type": "object"}
		}}}`), &bad.root); err != nil {
		t.Fatal(err)
	}
	bad.schemas = obj(obj(bad.root["components"])["schemas"])
	if got, n := bad.secretProperties(); n != 1 || len(got) != 1 || !strings.Contains(got[0], "password_hash") {
		t.Errorf("the walk over a document with a nested hash found %q in %d responses", got, n)
	}
	bad.schemas["User"].(map[string]any)["properties"].(map[string]any)["extra"] = map[string]any{"$ref": "#/components/schemas/Open"}
	if got, _ := bad.secretProperties(); len(got) != 2 || !strings.Contains(strings.Join(got, " "), "open to any property") {
		t.Errorf("an open object was not caught: %q", got)
	}

	// The pattern tells secrets from ordinary fields.
	for name, want := range map[string]bool{"password_hash": true, "sealed": true, "private_key": true, "d": true,
		"price_with_tax": false, "owner": false, "refresh_token": false, "username": false} {
		if got := forbiddenProperty.MatchString(name) && name != "refresh_token"; got != want {
			t.Errorf("forbiddenProperty(%q) = %v, want %v", name, got, want)
		}
	}
}

// secretProperties walks the schema of every response of every operation
// (through every $ref, array, property and oneOf/anyOf/allOf) and returns
// a line per property that could carry a secret or internal field and per
// object open to any property, and how many responses it walked.
func (d doc) secretProperties() (problems []string, responses int) {
	seen := map[string]bool{}
	var walk func(where string, s map[string]any)
	walk = func(where string, s map[string]any) {
		if ref, ok := s["$ref"].(string); ok {
			if !seen[ref] {
				seen[ref] = true
				walk(where+" "+ref, d.resolve(s))
			}
			return
		}
		ap, hasAP := s["additionalProperties"]
		switch {
		case obj(ap) != nil:
			walk(where+".*", obj(ap))
		case s["type"] == "object" && (!hasAP || ap != false) && !strings.Contains(where, "jwk-set"):
			problems = append(problems, where+": an object open to any property")
		}
		for k, v := range obj(s["properties"]) {
			if forbiddenProperty.MatchString(k) && k != "refresh_token" {
				problems = append(problems, where+"."+k+": a response property that could carry a secret or internal field")
			}
			walk(where+"."+k, obj(v))
		}
		if it := obj(s["items"]); it != nil {
			walk(where+"[]", it)
		}
		for _, key := range []string{"oneOf", "anyOf", "allOf"} {
			if list, ok := s[key].([]any); ok {
				for _, x := range list {
					walk(where+"|", obj(x))
				}
			}
		}
	}
	for path, item := range obj(d.root["paths"]) {
		for method, op := range obj(item) {
			for code, r := range obj(obj(op)["responses"]) {
				for ct, mt := range obj(obj(r)["content"]) {
					responses++
					walk(fmt.Sprintf("%s %s %s %s", method, path, code, ct), obj(obj(mt)["schema"]))
				}
			}
		}
	}
	return problems, responses
}

// TestDeclaredPolicy checks the declarations the matrix trusts: the
// administrative operations must declare an administrator's scope, so a
// change that opens one to every user fails here, not in production.
func TestDeclaredPolicy(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{})
	httpapi.Register(api, httpapi.Deps{OIDCDiscovery: []string{"https://idp.example/.well-known/openid-configuration"}})
	admin := []string{server.ScopeUsersAdmin, server.ScopeKeysAdmin}
	checked := 0
	for path, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			for _, req := range op.Security {
				// A stolen key must not mint keys, change a password or
				// administer: keys reach the items API and /protected only.
				if _, ok := req[fortapi.APIKeyScheme]; ok && !strings.HasPrefix(path, "/items/") && path != "/protected" {
					t.Errorf("%s %s accepts API keys", op.Method, path)
				}
				// Nor may an external token: only reads of the caller and
				// the items API.
				if _, ok := req[fortapi.OIDCScheme]; ok && !strings.HasPrefix(path, "/items/") && path != "/protected" &&
					(path != "/users/me" || op.Method != http.MethodGet) {
					t.Errorf("%s %s accepts external tokens", op.Method, path)
				}
			}
			adminPath := strings.HasPrefix(path, "/admin/") || path == "/users" || strings.HasPrefix(path, "/users/{id}")
			if !adminPath {
				continue
			}
			checked++
			for _, req := range op.Security {
				ok := len(req) > 0
				for _, scopes := range req {
					ok = ok && slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(admin, s) })
				}
				if !ok {
					t.Errorf("%s %s: requirement %v does not need an administrator's scope", op.Method, path, req)
				}
			}
		}
	}
	if checked < 7 {
		t.Fatalf("checked %d administrative operations, want at least 7", checked)
	}
}
