package scan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"crypto"
)

// target is a small items API for the unit tests: secure by default, with
// each flaw of the catalog switchable by its finding id.
type target struct {
	flaws  map[string]bool
	secret []byte
	rsaKey *rsa.PrivateKey
	mu     sync.Mutex
	users  map[string]*tUser // by name
	items  map[string]*tItem
	fails  map[string]int
	nextID int
	// noise, when set, is a random delay added to every search (a loaded
	// server); heavyRate, when set, makes the SQLI-TIME flaw a SQLite one:
	// no sleep(), a recursive count of LIMIT N rows costs N/heavyRate
	// seconds times load() (at least 1: a loaded CPU).
	noise     func() time.Duration
	heavyRate int
	load      func() float64
	// second is how long the target's second lasts: sleep(n) and the
	// heavy query's N/heavyRate seconds; the scan is told the same
	// (Options.second).
	second time.Duration
}

// testSecond is the second of the tests' time-based probes: the scanner's
// decisions are fractions of the delay it asks for, and its targets here
// (target, vulnapi's heavy query, which the scanner sizes to the delay it
// measures) take the amounts in the same unit, so a shorter second
// tests the same logic without waiting whole seconds. Not much shorter:
// the scheduling noise of a loaded machine does not shrink with it.
const testSecond = 250 * time.Millisecond

// scanKey is the RSA key of every test scan's header-key forgeries
// (Options.forgeryKey): another key than targetKey, which a target that
// verifies RS256 tokens with it would take a forgery signed with for its
// own.
var scanKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// targetKey is the RSA key of every target: generating a 2048-bit key
// costs about 0.1 s of CPU, and no test needs two targets' keys to differ
// (each target is scanned alone).
var targetKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type tUser struct {
	ID, Name, Password, Role string
}

type tItem struct {
	ID          string  `json:"id"`
	Owner       string  `json:"owner"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Price       float64 `json:"price"`
}

func newTarget(flaws ...string) *target {
	t := &target{flaws: map[string]bool{}, users: map[string]*tUser{}, items: map[string]*tItem{}, fails: map[string]int{}}
	for _, f := range flaws {
		t.flaws[f] = true
	}
	t.secret = make([]byte, 32)
	_, _ = rand.Read(t.secret)
	if t.flaws["JWT-WEAK-SECRET"] {
		t.secret = []byte("secret")
	}
	t.rsaKey = targetKey()
	t.second = testSecond
	for _, u := range []*tUser{{"u1", "alice", "alice-pw-123456", "user"}, {"u2", "bob", "bob-pw-1234567", "user"}, {"u0", "root", "root-pw-1234567", "admin"}} {
		t.users[u.Name] = u
	}
	t.items["900"] = &tItem{ID: "900", Owner: "u1", Name: "alice-seed", Description: "seed", Price: 1}
	t.items["901"] = &tItem{ID: "901", Owner: "u2", Name: "bob-seed", Description: "seed", Price: 2}
	return t
}

const targetDoc = `{"openapi":"3.1.0","info":{"title":"t","version":"1"},
"components":{"securitySchemes":{"oauth2":{"type":"oauth2","flows":{"password":{"tokenUrl":"/token","scopes":{"items":"items","admin":"admin"}}}}},
 "schemas":{"ItemIn":{"type":"object","additionalProperties":false,"required":["name","price"],"properties":{"name":{"type":"string","maxLength":100},"description":{"type":"string"},"price":{"type":"number","minimum":0}}}}},
"security":[{"oauth2":["items"]}],
"paths":{
"/token":{"post":{"security":[],"requestBody":{"content":{"application/x-www-form-urlencoded":{"schema":{"type":"object","properties":{"username":{"type":"string"},"password":{"type":"string"}}}}}},"responses":{"200":{"description":"ok"}}}},
"/users/me":{"get":{"responses":{"200":{"description":"ok"}}}},
"/items":{"get":{"parameters":[{"name":"q","in":"query","schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}},
          "post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/ItemIn"}}}},"responses":{"201":{"description":"ok"}}}},
"/items/{id}":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
  "get":{"responses":{"200":{"description":"ok"}}},
  "put":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/ItemIn"}}}},"responses":{"200":{"description":"ok"}}},
  "delete":{"responses":{"204":{"description":"ok"}}}},
"/admin/users":{"get":{"security":[{"oauth2":["admin"]}],"responses":{"200":{"description":"ok"}}}},
"/page":{"get":{"security":[],"parameters":[{"name":"name","in":"query","schema":{"type":"string"}}],"responses":{"200":{"description":"ok","content":{"text/html":{}}}}}},
"/.well-known/jwks.json":{"get":{"security":[],"responses":{"200":{"description":"ok"}}}}
}}`

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if !t.flaws["HDR-NOSNIFF-MISSING"] {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	if r.TLS != nil && !t.flaws["HSTS-MISSING"] {
		h.Set("Strict-Transport-Security", "max-age=63072000")
	}
	if t.flaws["HDR-SERVER-BANNER"] {
		h.Set("Server", "Apache/2.4.1")
	}
	if o := r.Header.Get("Origin"); o != "" {
		switch {
		case t.flaws["CORS-REFLECT-ORIGIN"] && o != "null", t.flaws["CORS-NULL-ORIGIN"] && o == "null":
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
		case t.flaws["CORS-WILDCARD-CREDENTIALS"]:
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if r.ContentLength > 1<<20 && !t.flaws["BODY-OVERSIZED"] {
		problem(w, 413, "too large")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 20<<20)
	path := r.URL.Path
	switch {
	case path == "/openapi.json":
		h.Set("Content-Type", "application/json")
		fmt.Fprint(w, targetDoc)
	case path == "/.well-known/jwks.json":
		pub := t.rsaKey.PublicKey
		writeJSON(w, 200, map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}}})
	case (path == "/debug/vars" || path == "/debug") && t.flaws["EXPOSURE-DEBUG-ENDPOINT"]:
		writeJSON(w, 200, map[string]any{"cmdline": []string{"/app/server"}, "memstats": map[string]any{}})
	case path == "/token" && r.Method == "POST":
		t.token(w, r)
	case path == "/page":
		h.Set("Content-Type", "text/html; charset=utf-8")
		if !t.flaws["HDR-CSP-MISSING"] {
			h.Set("Content-Security-Policy", "default-src 'none'")
		}
		if !t.flaws["HDR-FRAMING-MISSING"] {
			h.Set("X-Frame-Options", "DENY")
		}
		name := r.URL.Query().Get("name")
		if !t.flaws["XSS-REFLECTED"] {
			name = html.EscapeString(name)
		}
		fmt.Fprintf(w, "<!doctype html><p>Hello %s</p>", name)
	default:
		t.api(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, code int, detail string) {
	writeJSON(w, code, map[string]any{"status": code, "detail": detail})
}

func (t *target) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	name, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.flaws["AUTH-NO-LOGIN-RATE-LIMIT"] && t.fails[name] >= 5 {
		w.Header().Set("Retry-After", "60")
		problem(w, 429, "too many failed logins")
		return
	}
	u, ok := t.users[name]
	if !ok {
		t.fails[name]++
		if t.flaws["AUTH-USER-ENUMERATION"] {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "unknown user"})
			return
		}
		writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
		return
	}
	if u.Password != pw {
		t.fails[name]++
		writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
		return
	}
	now := time.Now().Unix()
	claims := map[string]any{"sub": u.ID, "name": u.Name, "role": u.Role, "iat": now, "exp": now + 900}
	if u.Role == "admin" {
		claims["scope"] = "items admin"
	} else {
		claims["scope"] = "items"
	}
	var tok string
	if t.flaws["JWT-ALG-CONFUSION"] {
		in := seg(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + seg(claims)
		d := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, t.rsaKey, crypto.SHA256, d[:])
		tok = in + "." + b64(sig)
	} else {
		tok = signHS("HS256", t.secret, map[string]any{"typ": "JWT"}, claims)
	}
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "bearer"})
}

// verify returns the user a bearer token names, or nil.
func (t *target) verify(r *http.Request) *tUser {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return nil
	}
	parts := strings.Split(tok, ".")
	hdr, claims, ok := jwtParts(tok)
	if !ok {
		if t.flaws["AUTH-GARBAGE-TOKEN"] && tok != "" {
			return t.users["alice"]
		}
		return nil
	}
	alg, _ := hdr["alg"].(string)
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	in := []byte(parts[0] + "." + parts[1])
	hsOK := func(key []byte) bool {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return hmac.Equal(m.Sum(nil), sig)
	}
	valid := false
	switch {
	case t.flaws["JWT-SIGNATURE-NOT-VERIFIED"]:
		valid = alg != "none" && strings.ToLower(alg) != "none"
	case strings.EqualFold(alg, "none"):
		valid = t.flaws["JWT-ALG-NONE"]
	case t.flaws["JWT-HEADER-KEY-TRUST"] && hdr["jwk"] != nil && alg == "RS256":
		jwk, _ := hdr["jwk"].(map[string]any)
		n, _ := base64.RawURLEncoding.DecodeString(fmt.Sprint(jwk["n"]))
		e, _ := base64.RawURLEncoding.DecodeString(fmt.Sprint(jwk["e"]))
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		d := sha256.Sum256(in)
		valid = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
	case t.flaws["JWT-KID-INJECTION"] && strings.Contains(fmt.Sprint(hdr["kid"]), "/dev/null"):
		valid = alg == "HS256" && hsOK(nil)
	case t.flaws["JWT-ALG-CONFUSION"] && alg == "HS256":
		der, _ := x509.MarshalPKIXPublicKey(&t.rsaKey.PublicKey)
		valid = hsOK(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	case t.flaws["JWT-ALG-CONFUSION"] && alg == "RS256":
		d := sha256.Sum256(in)
		valid = rsa.VerifyPKCS1v15(&t.rsaKey.PublicKey, crypto.SHA256, d[:], sig) == nil
	case alg == "HS256" && !t.flaws["JWT-ALG-CONFUSION"]:
		valid = hsOK(t.secret)
	}
	if !valid {
		return nil
	}
	now := float64(time.Now().Unix())
	exp, _ := claims["exp"].(float64)
	if exp < now && !t.flaws["JWT-EXPIRED-ACCEPTED"] {
		return nil
	}
	if nbf, ok := claims["nbf"].(float64); ok && nbf > now+30 && !t.flaws["JWT-NBF-IGNORED"] {
		return nil
	}
	name, _ := claims["name"].(string)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.users[name]
}

func (t *target) api(w http.ResponseWriter, r *http.Request) {
	u := t.verify(r)
	path := r.URL.Path
	open := t.flaws["AUTH-MISSING"] && strings.HasPrefix(path, "/items/") && r.Method == "GET"
	if u == nil && !open {
		w.Header().Set("WWW-Authenticate", "Bearer")
		problem(w, 401, "unauthenticated")
		return
	}
	if u == nil {
		u = &tUser{ID: "anon", Role: "user"}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case path == "/users/me":
		out := map[string]any{"id": u.ID, "username": u.Name, "role": u.Role}
		if t.flaws["EXPOSURE-SECRET-FIELD"] {
			out["password_hash"] = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
		}
		writeJSON(w, 200, out)
	case path == "/admin/users":
		if u.Role != "admin" && !t.flaws["BFLA"] {
			problem(w, 403, "forbidden")
			return
		}
		var names []string
		for n := range t.users {
			names = append(names, n)
		}
		writeJSON(w, 200, map[string]any{"users": names})
	case path == "/items" && r.Method == "GET":
		q := r.URL.Query().Get("q")
		t.search(w, u, q)
	case path == "/items" && r.Method == "POST":
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			problem(w, 422, "bad json")
			return
		}
		name, nameOK := in["name"].(string)
		price, priceOK := in["price"].(float64)
		if !priceOK && t.flaws["INPUT-5XX"] {
			problem(w, 500, "internal error")
			return
		}
		if !nameOK || !priceOK || len(name) > 100 || price < 0 {
			problem(w, 422, "invalid item")
			return
		}
		desc, _ := in["description"].(string)
		t.nextID++
		it := &tItem{ID: strconv.Itoa(1000 + t.nextID), Owner: u.ID, Name: name, Description: desc, Price: price}
		for k := range in {
			switch k {
			case "name", "price", "description":
			case "owner":
				if t.flaws["MASS-ASSIGNMENT"] {
					it.Owner = fmt.Sprint(in[k])
				}
			default:
				if !t.flaws["MASS-ASSIGNMENT"] {
					problem(w, 422, "unknown field "+k)
					return
				}
			}
		}
		t.items[it.ID] = it
		writeJSON(w, 201, it)
	case strings.HasPrefix(path, "/items/"):
		id := strings.TrimPrefix(path, "/items/")
		it, ok := t.items[id]
		mine := ok && (it.Owner == u.ID || u.Role == "admin" || open && u.ID == "anon")
		switch r.Method {
		case "GET":
			if !ok || !mine && !t.flaws["BOLA-READ"] {
				problem(w, 404, "not found")
				return
			}
			writeJSON(w, 200, it)
		case "PUT":
			if !ok || !mine && !t.flaws["BOLA-WRITE"] {
				problem(w, 404, "not found")
				return
			}
			var in tItem
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
				problem(w, 422, "invalid item")
				return
			}
			it.Name, it.Description, it.Price = in.Name, in.Description, in.Price
			writeJSON(w, 200, it)
		case "DELETE":
			if !ok || !mine && !t.flaws["BOLA-WRITE"] {
				problem(w, 404, "not found")
				return
			}
			delete(t.items, id)
			w.WriteHeader(204)
		}
	default:
		problem(w, 404, "not found")
	}
}

var (
	reSleepArg = regexp.MustCompile(`sleep\((\d+)\)`)
	reLimitArg = regexp.MustCompile(`LIMIT (\d+)\)`)
)

// search simulates a query built by concatenation when a SQLI flaw is on:
// SELECT * FROM items WHERE owner = ? AND name = '<q>'.
func (t *target) search(w http.ResponseWriter, u *tUser, q string) {
	if t.noise != nil {
		time.Sleep(t.noise())
	}
	var out []*tItem
	match := func(name string) bool { return q == "" || name == q }
	sqli := t.flaws["SQLI-ERROR"] || t.flaws["SQLI-BOOLEAN"] || t.flaws["SQLI-TIME"]
	if sqli && strings.ContainsAny(q, `'"`) {
		if strings.Count(q, "'")%2 == 1 || strings.Count(q, `"`)%2 == 1 {
			if t.flaws["SQLI-ERROR"] {
				problem(w, 500, `sqlite3.OperationalError: unrecognized token: "'`+q+`'"`)
			} else {
				problem(w, 500, "internal error")
			}
			return
		}
		if m := reSleepArg.FindStringSubmatch(q); t.flaws["SQLI-TIME"] && t.heavyRate == 0 && m != nil {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(time.Duration(n) * t.second)
		}
		if m := reLimitArg.FindStringSubmatch(q); t.flaws["SQLI-TIME"] && t.heavyRate > 0 && m != nil {
			n, _ := strconv.Atoi(m[1])
			f := 1.0
			if t.load != nil {
				f = t.load()
			}
			time.Sleep(time.Duration(f * float64(n) / float64(t.heavyRate) * float64(t.second)))
		}
		if t.flaws["SQLI-BOOLEAN"] {
			base, cond, _ := strings.Cut(q, "' ")
			truth := strings.HasSuffix(cond, "'1'='1") || strings.HasSuffix(cond, "'fsq'='fsq")
			or := strings.HasPrefix(cond, "OR ")
			match = func(name string) bool { return truth && (or || name == base) }
		}
	}
	for _, it := range t.items {
		if (it.Owner == u.ID || u.Role == "admin") && match(it.Name) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, 200, map[string]any{"items": out, "count": len(out)})
}
