package csrf_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/fortapi/fortapi/csrf"
)

// Example protects a login form and a cookie-authenticated API. The login
// route uses Require (login CSRF: the token is needed even without
// cookies), the API uses Handler, and login renews the token for the new
// session.
func Example() {
	// In production: 32+ random bytes from your secret store.
	key := []byte("example key: 32 bytes or longer!")
	p, err := csrf.New(csrf.Options{Key: key})
	if err != nil {
		log.Fatal(err)
	}

	// The session id is the "session" cookie here; a real application
	// looks the cookie up in its session store.
	session := func(r *http.Request) (string, bool) {
		c, err := r.Cookie("session")
		if err != nil {
			return "", false
		}
		return c.Value, true
	}

	mux := http.NewServeMux()
	mux.Handle("/login", p.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			tok, err := p.Ensure(w, r, "") // anonymous token for the form
			if err != nil {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, tok) // a real page renders <input type=hidden name=csrf_token value=...>
			return
		}
		// r.PostForm was parsed by the middleware; check the password here.
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "sess-42", Path: "/", Secure: true, HttpOnly: true})
		tok, err := p.Issue(w, "sess-42") // renewed at login
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, tok)
	}), session))
	mux.Handle("/api/", p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "done")
	}), session))

	// send plays the browser (or API client) and returns the status.
	send := func(method, path, cookie, body string, header ...string) (int, string) {
		r := httptest.NewRequest(method, "https://app.example"+path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}

	_, anon := send("GET", "/login", "", "")
	code, _ := send("POST", "/login", "", "user=alice")
	fmt.Println("login without token:", code)
	code, _ = send("POST", "/login", "__Host-csrf="+anon, "user=alice&csrf_token="+url.QueryEscape(anon),
		"Sec-Fetch-Site", "cross-site")
	fmt.Println("cross-site login:", code)
	code, fresh := send("POST", "/login", "__Host-csrf="+anon, "user=alice&csrf_token="+url.QueryEscape(anon),
		"Sec-Fetch-Site", "same-origin")
	fmt.Println("login with token:", code)

	cookies := "session=sess-42; __Host-csrf=" + fresh
	code, _ = send("POST", "/api/transfer", "session=sess-42; __Host-csrf="+anon, "", "X-CSRF-Token", anon)
	fmt.Println("API call with the pre-login token:", code)
	code, _ = send("POST", "/api/transfer", cookies, "", "X-CSRF-Token", fresh)
	fmt.Println("API call with the renewed token:", code)
	code, _ = send("POST", "/api/transfer", "", "", "Authorization", "Bearer opaque-access-token")
	fmt.Println("bearer client without cookies:", code)

	// Output:
	// login without token: 403
	// cross-site login: 403
	// login with token: 200
	// API call with the pre-login token: 403
	// API call with the renewed token: 200
	// bearer client without cookies: 200
}
