package browsere2e

// Real-browser tests of the server's browser defences: Debian's Chromium,
// driven through the DevTools protocol by chromedp, against `fortapi serve`
// started by e2e.Serve. Every browser runs under a per-test deadline
// (the allocator's parent context): when it passes, the browser is killed
// and every pending action fails, so no test can hang. Every page the
// browser opens is on 127.0.0.1 or localhost; anything else goes to a
// black-hole proxy that refuses it and names it in the log.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/debugger"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/fortapi/fortapi/internal/browsertest"
	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/internal/testutil"
)

const (
	// brTimeout bounds one browser test: the browser is killed when it
	// passes.
	brTimeout = 90 * time.Second
	// brXSSTimeout bounds the XSS corpus test, which loads ~500 documents.
	brXSSTimeout = 240 * time.Second

	brSessionCookie = "__Host-session"
	brCSRFCookie    = "__Host-csrf"

	// brBinding is the DevTools binding the hook reports through: a call
	// reaches the test at once, whatever the page does afterwards.
	brBinding = "__fortapiReport"
	// brHookURL names the hook script, so that the script detector can
	// tell it from the page's own scripts.
	brHookURL = "fortapi-browser-test-hook.js"
	// brDialogProbe is the one alert argument the hook lets through to the
	// real alert(), so that the dialog detector can be shown to work.
	brDialogProbe = "fortapi-dialog-probe"
)

// brHook runs in every frame before the page's own scripts (and in the
// page's world, so it sees what they see). It replaces the functions
// injected payloads call to show that they ran — alert, confirm, prompt,
// print — by recorders that report through the binding (no dialog opens,
// so a payload cannot block the page), and reports every CSP violation
// event. Its reports carry the page's URL.
var brHook = `(function () {
  "use strict";
  var report = window.` + brBinding + `;
  if (typeof report !== "function") { return; }
  function send(o) {
    try { o.href = String(location.href); report(JSON.stringify(o)); } catch (e) {}
  }
  ["alert", "confirm", "prompt", "print"].forEach(function (name) {
    var real = window[name];
    window[name] = function () {
      var args = Array.prototype.slice.call(arguments, 0, 3).map(function (a) {
        try { return String(a).slice(0, 200); } catch (e) { return "?"; }
      });
      send({kind: "call", fn: name, args: args});
      if (name === "alert" && args[0] === "` + brDialogProbe + `") { return real.apply(window, arguments); }
      return name === "confirm" ? false : (name === "prompt" ? null : undefined);
    };
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    send({kind: "csp", directive: e.effectiveDirective || e.violatedDirective,
      blocked: String(e.blockedURI), sample: String(e.sample || ""), disposition: String(e.disposition)});
  }, true);
  window.__fortapiHooked = true;
})();
//# sourceURL=` + brHookURL

// brSettle waits for the page to settle after its load event (a frame
// and a task, so that handlers run by rendering — autofocus, animations —
// get their chance; bounded by 1 s) and tells whether the hook is active
// and whether the page shows an item.
const brSettle = `new Promise(function (resolve) {
  var done = function () {
    resolve({hooked: window.__fortapiHooked === true, item: document.getElementById("item-description") !== null, href: location.href});
  };
  requestAnimationFrame(function () { setTimeout(done, 0); });
  setTimeout(done, 1000);
})`

type brSettled struct {
	Hooked bool   `json:"hooked"`
	Item   bool   `json:"item"`
	Href   string `json:"href"` // where the page is now
}

// brEvidence is a sign that script ran in a page: a hooked call, a dialog,
// a parsed page script, an uncaught exception or a console call.
type brEvidence struct {
	label  string // what the tab was showing
	kind   string
	detail string
}

type brCSPReport struct {
	label, directive, blocked, sample string
}

// brRequest is a request the tab sent to a watched origin.
type brRequest struct {
	method, url, resourceType string
	status                    int64    // of the first response; 0: none (refused by the browser, failed)
	redirects                 []string // where the answer sent the browser on
	sawHeaders                bool
	secFetchSite              string // as sent
	sessionCookie             bool   // the session cookie went with it
	failure                   string
}

func (r *brRequest) String() string {
	status := fmt.Sprint(r.status)
	if r.status == 0 {
		status = "no response"
		if r.failure != "" {
			status += " (" + r.failure + ")"
		}
	}
	for _, u := range r.redirects {
		status += " -> " + u
	}
	return fmt.Sprintf("%s %s [%s] Sec-Fetch-Site=%q session-cookie-sent=%v -> %s",
		r.method, r.url, r.resourceType, r.secFetchSite, r.sessionCookie, status)
}

// brBrowser is one Chromium with its deadline.
type brBrowser struct {
	ctx    context.Context // the first tab; the browser lives as long as it
	output *testutil.Buffer
	proxy  *brBlackHole
}

// brTab is one tab with the detectors attached.
type brTab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	label    string
	evidence []brEvidence
	csp      []brCSPReport
	logs     []string // console calls, exceptions and browser log entries, as text
	watch    string   // origin whose requests are recorded
	requests map[network.RequestID]*brRequest
	order    []*brRequest       // in the order they were first seen
	setBy    map[int64][]string // cookie names set by responses, by status
}

// brBlackHole is the browser's proxy: loopback never uses it (Chromium
// bypasses proxies for localhost and 127.0.0.0/8), so every connection it
// gets is an attempt to leave the machine. It answers none.
type brBlackHole struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen []string
}

func brStartBlackHole(t *testing.T) *brBlackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &brBlackHole{ln: ln}
	bh.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bh.wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				line, _ := bufio.NewReader(io.LimitReader(c, 512)).ReadString('\n')
				bh.mu.Lock()
				bh.seen = append(bh.seen, strings.TrimSpace(line))
				bh.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		bh.wg.Wait()
	})
	return bh
}

func (bh *brBlackHole) attempts() []string {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	return slices.Clone(bh.seen)
}

// brStart gives t a browser of its own in the package's Chromium: a new
// browser context (its own cookies, cache and black-hole proxy), closed
// after timeout or at the end of t, whichever comes first; then every
// pending action of t's tabs fails, so no test can hang.
func brStart(t *testing.T, timeout time.Duration) *brBrowser {
	t.Helper()
	bin := browsertest.Require(t)
	root, output := shared.Browser(t, bin)
	b := &brBrowser{output: output, proxy: brStartBlackHole(t)}
	deadline, cancelDeadline := context.WithTimeout(root, timeout)
	ctx, cancelContext := chromedp.NewContext(deadline, chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) {
		p.ProxyServer = "http://" + b.proxy.ln.Addr().String()
	}))
	b.ctx = ctx
	t.Cleanup(func() {
		cancelContext() // closes the tab and disposes of the browser context
		cancelDeadline()
		if t.Failed() {
			var keep []string
			for l := range strings.Lines(b.output.String()) {
				if !strings.Contains(l, "dbus/") {
					keep = append(keep, l)
				}
			}
			if out := strings.Join(keep, ""); out != "" {
				t.Logf("chromium output (shared by the package's browser tests; last 4 KiB, without D-Bus noise):\n%s", e2e.Tail(out, 4096))
			}
		}
		if seen := b.proxy.attempts(); len(seen) > 0 {
			t.Logf("the browser tried to leave loopback %d times (refused): %q", len(seen), seen)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a browser context in %s: %v\n%s", bin, err, e2e.Tail(b.output.String(), 4096))
	}
	return b
}

// tab opens a new tab with the hook, the script detector, the dialog
// dismisser and focus emulation.
func (b *brBrowser) tab(t *testing.T) *brTab {
	t.Helper()
	tb := &brTab{t: t, requests: map[network.RequestID]*brRequest{}, setBy: map[int64][]string{}}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(tb.on))
	tb.ctx = ctx
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	// The dialog detector: a dialog that opens anyway (the hook lets only
	// the probe through) is recorded by on and dismissed here.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	wg.Go(func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if _, err := chromedp.Call(ctx, cdpruntime.AddBinding, cdpruntime.AddBindingParams{Name: brBinding}); err != nil {
		t.Fatalf("Runtime.addBinding: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: brHook}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
	// The script detector: with the debugger on, every script V8 compiles
	// in the page is reported, inline <script>, event handler attribute
	// and javascript: URL alike; pauses (a payload's debugger statement)
	// are skipped.
	if _, err := chromedp.Call(ctx, debugger.Enable, debugger.EnableParams{}); err != nil {
		t.Fatalf("Debugger.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, debugger.SetSkipAllPauses, debugger.SetSkipAllPausesParams{Skip: true}); err != nil {
		t.Fatalf("Debugger.setSkipAllPauses: %v", err)
	}
	// Focus emulation: autofocus and onfocus payloads get their focus
	// events although the headless window has no real focus.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("Emulation.setFocusEmulationEnabled: %v", err)
	}
	return tb
}

// on runs in the tab's event loop: it only records.
func (tb *brTab) on(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	add := func(kind, detail string) {
		tb.evidence = append(tb.evidence, brEvidence{label: tb.label, kind: kind, detail: detail})
	}
	switch ev := ev.(type) {
	case *cdpruntime.EventBindingCalled:
		if ev.Name != brBinding {
			return
		}
		var r struct {
			Kind, Fn, Href                          string
			Args                                    []string
			Directive, Blocked, Sample, Disposition string
		}
		if err := json.Unmarshal([]byte(ev.Payload), &r); err != nil {
			add("call", "undecodable report "+ev.Payload)
			return
		}
		switch r.Kind {
		case "csp":
			tb.csp = append(tb.csp, brCSPReport{label: tb.label, directive: r.Directive, blocked: r.Blocked, sample: r.Sample})
			tb.logs = append(tb.logs, fmt.Sprintf("securitypolicyviolation %s blocked %q (%s) at %s", r.Directive, r.Blocked, r.Disposition, r.Href))
		default:
			add("call", fmt.Sprintf("%s(%q) ran at %s", r.Fn, r.Args, r.Href))
		}
	case *page.EventJavascriptDialogOpening:
		add("dialog", fmt.Sprintf("%s dialog %q opened at %s", ev.Type, ev.Message, ev.URL))
	case *debugger.EventScriptParsed:
		if ev.URL == "" || ev.URL == brHookURL {
			return // the test's own evaluations and the hook
		}
		if u, err := url.Parse(ev.URL); err == nil && strings.HasPrefix(u.Scheme, "chrome") || strings.HasPrefix(ev.URL, "devtools:") {
			return // the browser's own pages, such as the error page of a blocked frame
		}
		add("script", fmt.Sprintf("script compiled from %s (line %d, column %d, %d bytes)", ev.URL, ev.StartLine+1, ev.StartColumn+1, ev.Length))
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		add("exception", fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		tb.logs = append(tb.logs, "exception: "+msg+" at "+d.URL)
	case *cdpruntime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		where := ""
		if ev.StackTrace != nil && len(ev.StackTrace.CallFrames) > 0 {
			where = " at " + ev.StackTrace.CallFrames[0].URL
		}
		add("console", fmt.Sprintf("console.%s(%s)%s", ev.Type, strings.Join(args, ", "), where))
		tb.logs = append(tb.logs, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		tb.logs = append(tb.logs, fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
	// The events of one request come in any order (the ExtraInfo ones from
	// the network process), a redirect's legs share its id, and the
	// ExtraInfo events of the legs come in order: the first of each kind
	// is the request as it left the page.
	case *network.EventRequestWillBeSent:
		if tb.watch == "" {
			return
		}
		r := tb.request(ev.RequestID)
		switch {
		case r.method == "":
			r.method, r.url, r.resourceType = ev.Request.Method, ev.Request.URL, string(ev.Type)
		case ev.RedirectResponse != nil:
			r.redirects = append(r.redirects, ev.Request.URL)
			if r.status == 0 {
				r.status = ev.RedirectResponse.Status
			}
		}
	case *network.EventRequestWillBeSentExtraInfo:
		if r := tb.requestIfWatching(ev.RequestID); r != nil && !r.sawHeaders {
			r.sawHeaders = true
			r.secFetchSite = brHeader(ev.Headers, "Sec-Fetch-Site")
			r.sessionCookie = strings.Contains(brHeader(ev.Headers, "Cookie"), brSessionCookie+"=")
		}
	case *network.EventResponseReceivedExtraInfo:
		// Also for responses the browser then withholds from the page
		// (CORS, CORP), which get no responseReceived.
		if r := tb.requestIfWatching(ev.RequestID); r != nil {
			if r.status == 0 {
				r.status = ev.StatusCode
			}
			for l := range strings.Lines(brHeader(ev.Headers, "Set-Cookie")) {
				if name, _, ok := strings.Cut(l, "="); ok {
					tb.setBy[ev.StatusCode] = append(tb.setBy[ev.StatusCode], strings.TrimSpace(name))
				}
			}
		}
	case *network.EventResponseReceived:
		if r := tb.requestIfWatching(ev.RequestID); r != nil && r.status == 0 {
			r.status = ev.Response.Status
		}
	case *network.EventLoadingFailed:
		if r := tb.requestIfWatching(ev.RequestID); r != nil {
			r.failure = ev.ErrorText
			if ev.CorsErrorStatus != nil {
				r.failure += " " + string(ev.CorsErrorStatus.CorsError)
			}
			if ev.BlockedReason != "" {
				r.failure += " " + string(ev.BlockedReason)
			}
		}
	}
}

// request returns the record of id, making it; tb.mu is held.
func (tb *brTab) request(id network.RequestID) *brRequest {
	r := tb.requests[id]
	if r == nil {
		r = &brRequest{}
		tb.requests[id] = r
		tb.order = append(tb.order, r)
	}
	return r
}

func (tb *brTab) requestIfWatching(id network.RequestID) *brRequest {
	if tb.watch == "" {
		return nil
	}
	return tb.request(id)
}

func brHeader(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func (tb *brTab) setLabel(l string) {
	tb.mu.Lock()
	tb.label = l
	tb.mu.Unlock()
}

// take returns and forgets what the tab recorded.
func (tb *brTab) take() (ev []brEvidence, csp []brCSPReport, logs []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	ev, csp, logs = tb.evidence, tb.csp, tb.logs
	tb.evidence, tb.csp, tb.logs = nil, nil, nil
	return ev, csp, logs
}

// watchOrigin starts recording the requests to origin.
func (tb *brTab) watchOrigin(origin string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.watch = origin
	tb.requests = map[network.RequestID]*brRequest{}
	tb.order = nil
	tb.setBy = map[int64][]string{}
}

// cookiesSetBy returns the names of the cookies that responses with status
// set since watchOrigin (ExtraInfo events, which also cover redirects).
func (tb *brTab) cookiesSetBy(status int64) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.setBy[status])
}

// takeRequests returns and forgets the requests to the watched origin.
// Run a command first: the tab's listener has then seen every event that
// came before its reply.
func (tb *brTab) takeRequests() []brRequest {
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`1`)); err != nil {
		tb.t.Errorf("round trip: %v", err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []brRequest
	for _, r := range tb.order {
		if strings.HasPrefix(r.url, tb.watch+"/") {
			out = append(out, *r)
		}
	}
	tb.requests = map[network.RequestID]*brRequest{}
	tb.order = nil
	tb.setBy = map[int64][]string{}
	return out
}

// visit loads url labelled label, lets it settle and returns the document
// response.
func (tb *brTab) visit(url, label string) (*network.Response, brSettled, error) {
	return brVisit[brSettled](tb, url, label, brSettle)
}

// brVisit loads url labelled label in tb, then evaluates the promise
// settle and returns its value with the document response.
func brVisit[S any](tb *brTab, url, label, settle string) (*network.Response, S, error) {
	tb.setLabel(label)
	var s S
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		return nil, s, fmt.Errorf("loading %s: %w", url, err)
	}
	// A page that navigates itself away (a meta refresh) destroys the
	// context of the evaluation: settle the page it went to instead.
	for range 3 {
		if s, err = chromedp.Run(tb.ctx, chromedp.Evaluate[S](settle, chromedp.EvalAwaitPromise)); err == nil {
			return resp, s, nil
		}
	}
	return resp, s, fmt.Errorf("settling %s: %w", url, err)
}

// cookies returns the browser's cookies for u by name.
func (tb *brTab) cookies(u string) map[string]*network.Cookie {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		tb.t.Fatalf("Network.getCookies: %v", err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// brLogin signs in through the HTML form, as a person would.
func brLogin(t *testing.T, tb *brTab, base string) {
	t.Helper()
	if err := chromedp.Do(tb.ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), e2e.AdminPassword),
	); err != nil {
		t.Fatalf("filling the login form: %v", err)
	}
	if _, err := chromedp.Run(tb.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("submit")))); err != nil {
		t.Fatalf("submitting the login form: %v", err)
	}
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.ID("user"))); err != nil {
		t.Fatalf("no #user after signing in: %v", err)
	}
	user, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.ID("user")))
	if err != nil || user != "admin" {
		t.Fatalf("signed in as %q (%v), want admin", user, err)
	}
}

// brServer starts `fortapi serve` and returns it with a client that
// trusts its certificate and an admin bearer token.
func brServer(t *testing.T) (*e2e.Process, *http.Client, string) {
	t.Helper()
	bin := shared.Binary(t)
	dir := t.TempDir()
	p := e2e.Serve(t, bin, dir)
	c := e2e.TLSClient(t, dir, nil)
	return p, c, e2e.Login(t, c, p.URL)
}

// brUsersMe calls GET /users/me with only the session cookie value v and
// returns the status and the username.
func brUsersMe(t *testing.T, c *http.Client, base, v string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/users/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: brSessionCookie, Value: v})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		Username string `json:"username"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(b, &me)
	return resp.StatusCode, me.Username
}

// brQuietTLSServer is an httptest TLS server on 127.0.0.1 that does not log
// the browser's handshake chatter.
func brQuietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserLoginForm signs in through the HTML form and checks the
// cookies the browser got, that page script cannot read the session, and
// that signing out through the form ends the session on the server.
func TestBrowserLoginForm(t *testing.T) {
	brBegin(t)
	p, c, _ := brServer(t)
	b := brStart(t, brTimeout)
	tb := b.tab(t)
	base := p.URL

	// Before: the form page hands out an anonymous CSRF token, in the
	// __Host-csrf cookie and the hidden field (double submit).
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("GET /login: %v", err)
	}
	before := tb.cookies(base)
	csrf1 := before[brCSRFCookie]
	if csrf1 == nil {
		t.Fatalf("GET /login set no %s cookie; cookies: %v", brCSRFCookie, brCookieNames(before))
	}
	brCheckHostCookie(t, csrf1, true)
	if s := before[brSessionCookie]; s != nil {
		t.Fatalf("a session cookie exists before signing in: %+v", s)
	}
	field, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.CSS(`form.login input[name="csrf_token"]`)))
	if err != nil {
		t.Fatalf("reading the form's csrf_token: %v", err)
	}
	if field != csrf1.Value {
		t.Errorf("the login form's csrf_token %q is not the %s cookie %q", field, brCSRFCookie, csrf1.Value)
	}

	tb.watchOrigin(base)
	brLogin(t, tb, base)
	// The 303 that ends POST /login sets the session and a CSRF token for it.
	if set := tb.cookiesSetBy(http.StatusSeeOther); !slices.Contains(set, brSessionCookie) || !slices.Contains(set, brCSRFCookie) {
		t.Errorf("the 303 answer to POST /login set the cookies %q, want %s and a renewed %s", set, brSessionCookie, brCSRFCookie)
	}

	after := tb.cookies(base)
	sess := after[brSessionCookie]
	if sess == nil {
		t.Fatalf("no %s cookie after signing in; cookies: %v", brSessionCookie, brCookieNames(after))
	}
	brCheckHostCookie(t, sess, true)
	if sess.Value == "" {
		t.Fatalf("%s is empty", brSessionCookie)
	}
	csrf2 := after[brCSRFCookie]
	switch {
	case csrf2 == nil:
		t.Errorf("the %s cookie is gone after signing in", brCSRFCookie)
	case csrf2.Value == csrf1.Value:
		t.Errorf("the CSRF token was not renewed at login: still %q", csrf1.Value)
	default:
		brCheckHostCookie(t, csrf2, true)
		logoutField, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.CSS(`form[action="/logout"] input[name="csrf_token"]`)))
		if err != nil {
			t.Errorf("reading the logout form's csrf_token: %v", err)
		} else if logoutField != csrf2.Value {
			t.Errorf("the logout form's csrf_token %q is not the renewed cookie %q", logoutField, csrf2.Value)
		}
	}

	// Page script cannot read the session (HttpOnly).
	jsCookies, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatalf("document.cookie: %v", err)
	}
	if strings.Contains(jsCookies, brSessionCookie) || strings.Contains(jsCookies, sess.Value) {
		t.Errorf("document.cookie exposes the session cookie: %q", jsCookies)
	}
	if csrf2 != nil && strings.Contains(jsCookies, csrf2.Value) {
		t.Errorf("document.cookie exposes the CSRF cookie: %q", jsCookies)
	}

	// The cookie is the credential: alone, it answers /users/me.
	if status, user := brUsersMe(t, c, base, sess.Value); status != http.StatusOK || user != "admin" {
		t.Fatalf("GET /users/me with the browser's session cookie: %d %q, want 200 admin", status, user)
	}
	// The token from before the login is dead for the session; the
	// renewed one works (an unsafe cookie request, as a page script would
	// send it).
	if csrf2 != nil {
		for _, tc := range []struct {
			name, token string
			want        int
		}{
			{"the pre-login token", csrf1.Value, http.StatusForbidden},
			{"the renewed token", csrf2.Value, http.StatusCreated},
		} {
			if got := brCookiePost(t, c, base, sess.Value, tc.token); got != tc.want {
				t.Errorf("POST /items/ with the session cookie and %s: %d, want %d", tc.name, got, tc.want)
			}
		}
	}

	// Sign out through the form.
	if _, err := chromedp.Run(tb.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("logout")))); err != nil {
		t.Fatalf("submitting the logout form: %v", err)
	}
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("no sign-in form after signing out: %v", err)
	}
	if s := tb.cookies(base)[brSessionCookie]; s != nil {
		t.Errorf("the browser still holds %s after signing out: %+v", brSessionCookie, s)
	}
	if status, user := brUsersMe(t, c, base, sess.Value); status != http.StatusUnauthorized {
		t.Errorf("GET /users/me with the signed-out session cookie: %d %q, want 401", status, user)
	}
	ev, _, _ := tb.take()
	for _, e := range ev { // the sign-in pages have no script at all
		t.Errorf("script activity on the sign-in pages: %s: %s", e.kind, e.detail)
	}
}

// brCookiePost creates an item the way a page script of the site would:
// session cookie, CSRF cookie and the same token in X-CSRF-Token.
func brCookiePost(t *testing.T, c *http.Client, base, session, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/items/", strings.NewReader(`{"name":"from the page","price":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	req.AddCookie(&http.Cookie{Name: brSessionCookie, Value: session})
	req.AddCookie(&http.Cookie{Name: brCSRFCookie, Value: token})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func brCookieNames(m map[string]*network.Cookie) []string {
	return slices.Sorted(maps.Keys(m))
}

// brCheckHostCookie checks a __Host- cookie's attributes.
func brCheckHostCookie(t *testing.T, c *network.Cookie, httpOnly bool) {
	t.Helper()
	if !c.Secure {
		t.Errorf("%s is not Secure", c.Name)
	}
	if c.HTTPOnly != httpOnly {
		t.Errorf("%s HttpOnly = %v, want %v", c.Name, c.HTTPOnly, httpOnly)
	}
	if c.SameSite != network.CookieSameSiteLax {
		t.Errorf("%s SameSite = %q, want Lax", c.Name, c.SameSite)
	}
	if c.Path != "/" {
		t.Errorf("%s Path = %q, want /", c.Name, c.Path)
	}
	if strings.HasPrefix(c.Domain, ".") {
		t.Errorf("%s has Domain %q: a __Host- cookie must be host-only", c.Name, c.Domain)
	}
}

// brCheckStrictCSP checks the policy of an HTML page of the server.
func brCheckStrictCSP(policy string) (nonce string, problems []string) {
	if policy == "" {
		return "", []string{"no Content-Security-Policy header"}
	}
	dirs := map[string][]string{}
	for d := range strings.SplitSeq(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			dirs[strings.ToLower(f[0])] = f[1:]
		}
	}
	script, ok := dirs["script-src"]
	if !ok {
		problems = append(problems, "no script-src")
	}
	for _, s := range script {
		if strings.HasPrefix(s, "'nonce-") {
			nonce = s
		}
	}
	if nonce == "" {
		problems = append(problems, "script-src has no 'nonce-…'")
	}
	if !slices.Contains(script, "'strict-dynamic'") {
		problems = append(problems, "script-src lacks 'strict-dynamic'")
	}
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} {
		if slices.Contains(script, bad) {
			problems = append(problems, "script-src allows "+bad)
		}
	}
	if o := dirs["object-src"]; !slices.Equal(o, []string{"'none'"}) {
		problems = append(problems, fmt.Sprintf("object-src is %q, want 'none'", o))
	}
	if o := dirs["base-uri"]; !slices.Equal(o, []string{"'none'"}) {
		problems = append(problems, fmt.Sprintf("base-uri is %q, want 'none'", o))
	}
	return nonce, problems
}

// brXSSJob is one corpus line turned into an item.
type brXSSJob struct {
	line    int
	payload string
	id      string
	named   bool   // the payload is also the item's name
	name    string // as the server stored it
	stored  string // the description as the server stored it (sanitized)

	createErr error
}

// brPage is one page for brLoadAll: settle is the promise evaluated once
// it loaded, check looks at the response and the promise's value and
// returns what is wrong.
type brPage[S any] struct {
	url, label, settle string
	check              func(resp *network.Response, s S) []string
}

// brLoadAll loads the pages spread over tabs, each tab one page at a time,
// and reports each page's problems (and load errors) as test errors.
func brLoadAll[S any](t *testing.T, tabs []*brTab, pages []brPage[S]) {
	t.Helper()
	queue := make(chan brPage[S])
	var wg sync.WaitGroup
	for _, tb := range tabs {
		wg.Go(func() { brWork(t, tb, queue) })
	}
	for _, pg := range pages {
		queue <- pg
	}
	close(queue)
	wg.Wait()
}

// brWork loads the pages of queue in tb, one at a time, until it is
// closed, and reports each page's problems as test errors.
func brWork[S any](t *testing.T, tb *brTab, queue <-chan brPage[S]) {
	for pg := range queue {
		resp, s, err := brVisit[S](tb, pg.url, pg.label, pg.settle)
		if err != nil {
			t.Errorf("%s: %v", pg.label, err)
			continue
		}
		for _, pr := range pg.check(resp, s) {
			t.Errorf("%s: %s", pg.label, pr)
		}
	}
}

// brFrameSettle settles a harness page of pass 2 and describes each of
// its frames.
const brFrameSettle = `new Promise(function (resolve) {
  var done = function () {
    var out = [];
    document.querySelectorAll("iframe").forEach(function (f) {
      var r = {line: Number(f.dataset.line), href: "", hooked: false, item: false};
      try {
        r.href = String(f.contentWindow.location.href);
        r.hooked = f.contentWindow.__fortapiHooked === true;
        r.item = f.contentDocument.getElementById("item-description") !== null;
      } catch (e) { r.href = "inaccessible: " + e; }
      out.push(r);
    });
    resolve(out);
  };
  requestAnimationFrame(function () { setTimeout(done, 0); });
  setTimeout(done, 1000);
})`

type brFrameState struct {
	Line   int    `json:"line"`
	Href   string `json:"href"`
	Hooked bool   `json:"hooked"`
	Item   bool   `json:"item"`
}

// brBegin starts a browser test: in parallel with the others, skipped
// (or failed under FORTAPI_TEST_STRICT=1) before anything is built or
// started when Chromium is missing, its run time logged at the end.
func brBegin(t *testing.T) {
	t.Helper()
	t.Parallel()
	browsertest.Require(t)
	start := time.Now()
	t.Cleanup(func() { t.Logf("runtime %v", time.Since(start).Round(time.Millisecond)) })
}

// TestBrowserXSSCorpus stores every vector of testdata/xss-vectors.txt as
// an item's name and description, loads what every item page shows in a
// signed-in browser, and fails if any script of a payload ran.
//
// Pass 1 loads the stored descriptions in batch items, about 20 to a page
// (a page load costs the browser ~70 ms of CPU; 500 of them were most of
// the package's time): every item page is fetched without a browser to
// check that it shows the name as text and exactly the stored
// description under a strict policy of its own, and on the batch item's
// page each stored description is proven to parse, in the browser, into
// the DOM it gets alone (brBatchSettle, itself proven by
// brProveSegmentCheck); a vector whose segment does not is loaded on its
// own item page.
//
// Detectors: the hook records every call of alert, confirm, prompt and
// print; a dialog that opens anyway is recorded; the debugger reports every
// script the page compiles (the item page has none of its own, so any is a
// payload's: inline script, event handler or javascript: URL); uncaught
// exceptions and console calls are script too. CSP violations are
// expected (the policy blocking a payload) and only counted. A
// deliberately vulnerable page proves each detector fires.
//
// A second pass takes the sanitizer away: each raw payload is served by a
// test server inside the item page's markup with the server's own
// Content-Security-Policy header, so that the policy alone must stop it.
// The passes run one after the other, each over all the tabs.
func TestBrowserXSSCorpus(t *testing.T) {
	brBegin(t)
	raw, err := os.ReadFile("../../../testdata/xss-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*brXSSJob
	for i, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			jobs = append(jobs, &brXSSJob{line: i + 1, payload: l})
		}
	}
	if len(jobs) < 400 {
		t.Fatalf("only %d vectors in testdata/xss-vectors.txt", len(jobs))
	}
	byLine := map[int]*brXSSJob{}
	for _, j := range jobs {
		byLine[j.line] = j
	}
	p, c, tok := brServer(t)
	b := brStart(t, brXSSTimeout)

	// The detectors must fire on a page that really is vulnerable, and
	// the batch segment check on segments that parse otherwise.
	brProveDetectors(t, b)
	brProveSegmentCheck(t, b)

	// One item per vector, created by a few clients at once (the order
	// does not matter; each job is written by one goroutine).
	phase := time.Now()
	var refusedNames atomic.Int64
	creating := make(chan *brXSSJob)
	var created sync.WaitGroup
	for range 4 {
		created.Go(func() {
			for j := range creating {
				status, it, err := brCreateItem(c, p.URL, tok, j.payload, j.payload)
				j.named = true
				if status == http.StatusUnprocessableEntity {
					refusedNames.Add(1)
					j.named = false
					status, it, err = brCreateItem(c, p.URL, tok, fmt.Sprintf("xss vector line %d", j.line), j.payload)
				}
				if err != nil || status != http.StatusCreated {
					j.createErr = fmt.Errorf("line %d %q: POST /items/ = %d, %v", j.line, brShort(j.payload), status, err)
				}
				j.id, j.name, j.stored = it.ID, it.Name, it.Description
			}
		})
	}
	for _, j := range jobs {
		creating <- j
	}
	close(creating)
	created.Wait()
	for _, j := range jobs {
		if j.createErr != nil {
			t.Fatal(j.createErr)
		}
	}
	t.Logf("created %d items in %v (%d payloads refused as names — nothing left after sanitizing, or over 100 characters — stored with a fixed name)",
		len(jobs), time.Since(phase).Round(time.Millisecond), refusedNames.Load())

	// The passes run one after the other, each in all the tabs; a pass is
	// reported (the tabs' records taken) before the next starts, so that
	// what a tab records belongs to one pass.
	const workers = 4 // more tabs do not load faster on 2 CPUs
	tabs := make([]*brTab, workers)
	for i := range tabs {
		tabs[i] = b.tab(t)
	}
	brLogin(t, tabs[0], p.URL) // the tabs share the browser's cookies

	// The policy pass 2 replays: the first item page's, as the browser
	// gets it (pass 1 checks every item page's policy the same way).
	var mu sync.Mutex
	nonces := map[string]string{}
	first := fmt.Sprintf("line %d", jobs[0].line)
	resp, _, err := tabs[0].visit(p.URL+"/items/"+jobs[0].id+"/view", first)
	if err != nil {
		t.Fatal(err)
	}
	policy := brHeader(resp.Headers, "Content-Security-Policy")
	if nonce, problems := brCheckStrictCSP(policy); len(problems) > 0 {
		t.Fatalf("the item page of %s has no strict policy to replay in pass 2: %q: %s", first, policy, problems)
	} else {
		nonces[nonce] = first + " (the policy for pass 2)"
	}

	// Pass 1: the server's pages. The item list on /login shows names too.
	// Every item page is fetched (no browser) to check its policy and
	// that it shows the name as text and exactly the stored description;
	// the browser then loads the stored descriptions in batch items, each
	// segment proven to parse as it does alone (brBatchSettle), and the
	// item page of every vector whose segment is not.
	itemCheck := func(id, label string) func(*network.Response, brBatchSettled) []string {
		return func(resp *network.Response, s brBatchSettled) []string {
			var out []string
			if s.Href != resp.URL {
				out = append(out, fmt.Sprintf("the stored payload navigated the page away to %q", s.Href))
			} else if resp.Status != http.StatusOK || !s.Item {
				out = append(out, fmt.Sprintf("/items/%s/view answered %d (item shown: %v): the payload was not tested", id, resp.Status, s.Item))
			}
			if !s.Hooked {
				out = append(out, "the detector hook is not active on the page")
			}
			csp := brHeader(resp.Headers, "Content-Security-Policy")
			nonce, problems := brCheckStrictCSP(csp)
			for _, pr := range problems {
				out = append(out, fmt.Sprintf("/items/%s/view Content-Security-Policy %q: %s", id, csp, pr))
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := nonces[nonce]; dup && nonce != "" {
				out = append(out, fmt.Sprintf("the CSP nonce %s was already sent for %s", nonce, prev))
			}
			nonces[nonce] = label
			return out
		}
	}
	single := func(j *brXSSJob) brPage[brBatchSettled] {
		label := fmt.Sprintf("line %d", j.line)
		return brPage[brBatchSettled]{url: p.URL + "/items/" + j.id + "/view", label: label, settle: brSettle, check: itemCheck(j.id, label)}
	}
	phase = time.Now()
	session := tabs[0].cookies(p.URL)[brSessionCookie] // the item pages are for signed-in browsers
	if session == nil {
		t.Fatalf("no %s cookie after signing in", brSessionCookie)
	}
	brFetchItemPages(t, c, p.URL, session.Value, jobs, func(j *brXSSJob, nonce string) string {
		mu.Lock()
		defer mu.Unlock()
		prev := nonces[nonce]
		nonces[nonce] = fmt.Sprintf("line %d (fetched)", j.line)
		return prev
	})
	pages := []brPage[brBatchSettled]{{url: p.URL + "/login", label: "the item list on /login", settle: brSettle, check: func(resp *network.Response, s brBatchSettled) []string {
		if resp.Status != http.StatusOK || !s.Hooked {
			return []string{fmt.Sprintf("GET /login = %d, hook active %v", resp.Status, s.Hooked)}
		}
		return nil
	}}}
	itemBatches, unbatched := brMakeBatches(t, c, p.URL, tok, jobs)
	var retry []*brXSSJob // vectors whose segment did not parse as it does alone
	for _, bt := range itemBatches {
		label := fmt.Sprintf("batch item %s (lines %s)", bt.id, bt.lines())
		check := itemCheck(bt.id, label)
		pages = append(pages, brPage[brBatchSettled]{url: p.URL + "/items/" + bt.id + "/view", label: label, settle: brBatchSettle(bt.jobs),
			check: func(resp *network.Response, s brBatchSettled) []string {
				out := check(resp, s)
				if len(out) > 0 {
					return out
				}
				if len(s.Segs) != len(bt.jobs) {
					return []string{fmt.Sprintf("%d segments described, want %d: the payloads were not tested", len(s.Segs), len(bt.jobs))}
				}
				mu.Lock()
				defer mu.Unlock()
				for k, sg := range s.Segs {
					if j := bt.jobs[k]; sg.Line != j.line || !sg.Same {
						retry = append(retry, j)
					}
				}
				return nil
			}})
	}
	for _, j := range unbatched {
		pages = append(pages, single(j))
	}
	t.Logf("pass 1: fetched %d item pages in %v; %d vectors in %d batch items, %d alone",
		len(jobs), time.Since(phase).Round(time.Millisecond), len(jobs)-len(unbatched), len(itemBatches), len(unbatched))
	brLoadAll(t, tabs, pages)
	// A vector whose segment did not parse as alone is tested on its own
	// item page.
	var again1 []brPage[brBatchSettled]
	for _, j := range retry {
		again1 = append(again1, single(j))
	}
	brLoadAll(t, tabs, again1)
	t.Logf("pass 1: loaded /login, %d batch item pages and %d item pages (%d whose segment parsed otherwise in a batch) in %v with %d tabs",
		len(itemBatches), len(unbatched)+len(again1), len(again1), time.Since(phase).Round(time.Millisecond), workers)
	brReportXSS(t, tabs, byLine, "pass 1 (sanitizer and CSP)")

	// Pass 2: the raw payload in the item page's markup, under the
	// server's policy, from a test server. To load fast, a harness page
	// frames batchSize vectors, each in its own document with its own
	// policy; framing needs frame-ancestors 'self' instead of 'none'
	// (framing has nothing to do with what script may run).
	const batchSize = 12 // ~40 harness pages: the tabs end close together
	var framed []string
	for d := range strings.SplitSeq(policy, ";") {
		if f := strings.Fields(d); len(f) > 0 && strings.EqualFold(f[0], "frame-ancestors") {
			d = " frame-ancestors 'self'"
		}
		framed = append(framed, d)
	}
	framedPolicy := strings.Join(framed, ";")
	raws := brQuietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/batch/%d", &n); err == nil && n >= 0 && n*batchSize < len(jobs) {
			fmt.Fprint(w, "<!doctype html>\n<title>harness</title>\n")
			for _, j := range jobs[n*batchSize : min(len(jobs), (n+1)*batchSize)] {
				fmt.Fprintf(w, "<iframe data-line=\"%d\" src=\"/raw/%d\" width=\"240\" height=\"120\"></iframe>\n", j.line, j.line)
			}
			return
		}
		if _, err := fmt.Sscanf(r.URL.Path, "/raw/%d", &n); err != nil || byLine[n] == nil {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Has("top") {
			w.Header().Set("Content-Security-Policy", policy)
		} else {
			w.Header().Set("Content-Security-Policy", framedPolicy)
		}
		fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>raw vector</title>\n</head>\n<body>\n"+
			"<h1 id=\"item-name\">line %d</h1>\n<div class=\"item-description\" id=\"item-description\">%s</div>\n</body>\n</html>\n",
			n, byLine[n].payload) // deliberately unsanitized
	}))
	phase = time.Now()
	var navigated []int // vectors that took their frame elsewhere
	var batches []brPage[[]brFrameState]
	for n := 0; n*batchSize < len(jobs); n++ {
		want := jobs[n*batchSize : min(len(jobs), (n+1)*batchSize)]
		batches = append(batches, brPage[[]brFrameState]{url: fmt.Sprintf("%s/batch/%d", raws.URL, n),
			label: fmt.Sprintf("raw batch %d (lines %d-%d)", n, want[0].line, want[len(want)-1].line), settle: brFrameSettle,
			check: func(resp *network.Response, frames []brFrameState) []string {
				if resp.Status != http.StatusOK || len(frames) != len(want) {
					return []string{fmt.Sprintf("the harness answered %d with %d frames, want %d", resp.Status, len(frames), len(want))}
				}
				var out []string
				for _, f := range frames {
					switch {
					case f.Href != fmt.Sprintf("%s/raw/%d", raws.URL, f.Line):
						// A frame may be navigated where a page may not (to data:
						// URLs) and may land in another process the tab's
						// detectors do not see: such vectors are tried again as
						// pages, below.
						mu.Lock()
						navigated = append(navigated, f.Line)
						mu.Unlock()
					case !f.Item || !f.Hooked:
						out = append(out, fmt.Sprintf("raw line %d: item shown %v, hook active %v: the payload was not tested", f.Line, f.Item, f.Hooked))
					}
				}
				return out
			}})
	}
	brLoadAll(t, tabs, batches)
	var again []brPage[brSettled]
	for _, line := range navigated {
		again = append(again, brPage[brSettled]{url: fmt.Sprintf("%s/raw/%d?top=1", raws.URL, line), label: fmt.Sprintf("raw line %d as a page", line), settle: brSettle,
			check: func(resp *network.Response, s brSettled) []string {
				if s.Href != resp.URL {
					// Navigation is not script and CSP does not govern it; the
					// sanitizer removes <meta>. Whatever the page went to is
					// still in the watched tab.
					t.Logf("raw line %d navigated the page away to %q; no script ran there", line, s.Href)
					return nil
				}
				if resp.Status != http.StatusOK || !s.Item || !s.Hooked {
					return []string{fmt.Sprintf("answered %d (item shown: %v, hook active: %v): the payload was not tested", resp.Status, s.Item, s.Hooked)}
				}
				return nil
			}})
	}
	brLoadAll(t, tabs, again)
	t.Logf("pass 2: loaded %d raw vectors in %d harness pages, and %d that navigated their frame as pages, in %v with %d tabs",
		len(jobs), len(batches), len(again), time.Since(phase).Round(time.Millisecond), workers)
	if n := brReportXSS(t, tabs, byLine, "pass 2 (CSP alone)"); n == 0 {
		t.Error("pass 2 saw no CSP violation: the raw payloads were not blocked by the policy, so the pass proves nothing")
	}
}

// brRawLine finds the vector of pass 2 in a URL.
var brRawLine = regexp.MustCompile(`/raw/([0-9]+)`)

// brReportXSS fails the test for every sign of script the tabs recorded,
// naming the vector, and returns the number of CSP violation reports.
func brReportXSS(t *testing.T, tabs []*brTab, byLine map[int]*brXSSJob, pass string) int {
	t.Helper()
	violations := map[string]int{}
	n, executed := 0, 0
	for _, tb := range tabs {
		ev, csp, _ := tb.take()
		for _, e := range ev {
			executed++
			what := e.label
			var line int
			if m := brRawLine.FindStringSubmatch(e.detail); m != nil {
				fmt.Sscan(m[1], &line)
			} else {
				fmt.Sscanf(e.label, "line %d", &line)
			}
			if byLine[line] != nil {
				j := byLine[line]
				what = fmt.Sprintf("%s (item %s, payload also the name: %v) %q", e.label, j.id, j.named, brShort(j.payload))
			}
			t.Errorf("%s: SCRIPT RAN (%s) on %s: %s", pass, e.kind, what, e.detail)
		}
		for _, v := range csp {
			violations[v.directive]++
			n++
		}
	}
	t.Logf("%s: %d signs of script; %d CSP violation reports (blocked payloads, expected) by directive: %v", pass, executed, n, violations)
	return n
}

// brProveDetectors loads a deliberately vulnerable page (no CSP, the query
// reflected as HTML) and requires every detector to fire on it.
func brProveDetectors(t *testing.T, b *brBrowser) {
	t.Helper()
	vuln := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>vulnerable</title><p>%s</p>", r.URL.Query().Get("q")) // deliberately unescaped
	}))
	defer vuln.Close()
	tb := b.tab(t)
	cases := []struct {
		name, reflect string
		kinds         []string // each must be detected
	}{
		{"inline script calling alert", `<script>alert(1)</script>`, []string{"call", "script"}},
		{"event handler calling confirm", `<img src=/none onerror=confirm(2)>`, []string{"call", "script"}},
		{"autofocus handler calling prompt", `<input autofocus onfocus=prompt(3)>`, []string{"call", "script"}},
		{"script calling no dialog function", `<script>shadowlabs(0x45)</script>`, []string{"script", "exception"}},
		{"script logging", `<script>console.log("ran")</script>`, []string{"script", "console"}},
		{"real dialog", `<script>alert("` + brDialogProbe + `")</script>`, []string{"dialog"}},
	}
	for _, tc := range cases {
		u := vuln.URL + "/?q=" + url.QueryEscape(tc.reflect)
		if _, _, err := tb.visit(u, tc.name); err != nil {
			t.Fatalf("detector check %s: %v", tc.name, err)
		}
		ev, _, _ := tb.take()
		got := map[string]bool{}
		for _, e := range ev {
			got[e.kind] = true
		}
		for _, k := range tc.kinds {
			if !got[k] {
				t.Fatalf("detector check: the %q detector did not fire on a vulnerable page reflecting %s (recorded: %v): the corpus test would prove nothing",
					k, tc.reflect, ev)
			}
		}
	}
}

// brItem is what POST /items/ answers, as far as the browser tests look.
type brItem struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// brCreateItem creates an item and returns what the server stored.
func brCreateItem(c *http.Client, base, tok, name, desc string) (int, brItem, error) {
	var it brItem
	body, err := json.Marshal(map[string]any{"name": name, "description": desc, "price": 1})
	if err != nil {
		return 0, it, err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/items/", bytes.NewReader(body))
	if err != nil {
		return 0, it, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0, it, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(b, &it)
	}
	return resp.StatusCode, it, err
}

func brShort(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// brHostile serves the attacker's pages; target is the server's origin.
func brHostile(t *testing.T, target, stolenToken string) *httptest.Server {
	t.Helper()
	pages := template.Must(template.New("hostile").Parse(`
{{define "form-items"}}<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{{.Target}}/items/" enctype="text/plain">
<input type="hidden" name='{"name":"csrf-attack-form","price":1,"pad":"' value='"}'>
</form>
<script>addEventListener("load", function () { setTimeout(function () { document.getElementById("f").submit(); }, 0); });</script>
{{end}}
{{define "form-logout"}}<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{{.Target}}/logout">
<input type="hidden" name="csrf_token" value="{{.Token}}">
</form>
<script>addEventListener("load", function () { setTimeout(function () { document.getElementById("f").submit(); }, 0); });</script>
{{end}}
{{define "fetch"}}<!doctype html><title>win a prize</title>
<script>
window.__attack = (async function () {
  var target = {{.Target}}, token = {{.Token}}, out = {};
  async function run(name, req) {
    try {
      var r = await req();
      var o = {status: r.status, type: r.type};
      try { o.body = await r.text(); } catch (e) { o.error = "body: " + e; }
      out[name] = o;
    } catch (e) {
      out[name] = {error: String(e)};
    }
  }
  await run("postJSON", function () {
    return fetch(target + "/items/", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({name: "csrf-attack-fetch-json", price: 1})});
  });
  await run("postNoCORS", function () {
    return fetch(target + "/items/", {method: "POST", mode: "no-cors", credentials: "include",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify({name: "csrf-attack-fetch-no-cors", price: 1})});
  });
  await run("getMe", function () {
    return fetch(target + "/users/me", {credentials: "include"});
  });
  await run("getMeNoCORS", function () {
    return fetch(target + "/users/me", {mode: "no-cors", credentials: "include"});
  });
  return out;
})();
</script>
{{end}}
{{define "frame"}}<!doctype html><title>click here</title>
<iframe id="f" name="victim" src="{{.Target}}" width="800" height="600"></iframe>
<script>
window.__framed = new Promise(function (resolve) {
  document.getElementById("f").addEventListener("load", function () { resolve("load"); });
  setTimeout(function () { resolve("no load event within 10s"); }, 10000);
});
</script>
{{end}}`))
	return brQuietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if pages.Lookup(name) == nil {
			http.NotFound(w, r)
			return
		}
		frameTarget := r.URL.Query().Get("frame")
		data := struct{ Target, Token string }{target, stolenToken}
		if name == "frame" {
			data.Target = frameTarget
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			t.Errorf("hostile page %s: %v", name, err)
		}
	}))
}

// brStolenToken is a validly signed CSRF token the attacker got for
// themselves (anonymous session) from GET /csrftoken/.
func brStolenToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/csrftoken/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Token string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Token == "" {
		t.Fatalf("GET /csrftoken/: %d %v", resp.StatusCode, err)
	}
	return v.Token
}

type brFetchOutcome struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

// TestBrowserCrossOrigin has a signed-in browser visit hostile pages on
// other origins — a sibling origin on the same site (127.0.0.1, another
// port: Sec-Fetch-Site same-site, SameSite=Lax cookies are sent) and
// another site (localhost) — that post forms and fetch with credentials,
// and checks that nothing changed and nothing could be read.
func TestBrowserCrossOrigin(t *testing.T) {
	brBegin(t)
	p, c, tok := brServer(t)
	base := p.URL
	hostile := brHostile(t, base, brStolenToken(t, c, base))
	hu, _ := url.Parse(hostile.URL)
	b := brStart(t, brTimeout)
	tb := b.tab(t)
	brLogin(t, tb, base)
	sess := tb.cookies(base)[brSessionCookie]
	if sess == nil {
		t.Fatal("no session cookie after signing in")
	}
	tb.take()

	origins := []struct{ name, origin string }{
		{"same-site sibling origin 127.0.0.1:" + hu.Port(), "https://127.0.0.1:" + hu.Port()},
		{"cross-site origin localhost:" + hu.Port(), "https://localhost:" + hu.Port()},
	}
	// The document the hostile form's POST ends in, on the server.
	isDoc := func(ev network.EventResponseReceived) bool {
		return ev.Type == network.ResourceTypeDocument && strings.HasPrefix(ev.Response.URL, base+"/")
	}
	for _, o := range origins {
		t.Run(o.name, func(t *testing.T) {
			// In this order: the forged logout comes last, so that the
			// other attacks run against a live session.
			attacks := []struct {
				name, page, path string // path: the form's target; "" for the script
			}{
				{"text/plain form posting JSON to /items/", "form-items", "/items/"},
				{"credentialed fetch", "fetch", ""},
				{"urlencoded form posting to /logout with the attacker's own CSRF token", "form-logout", "/logout"},
			}
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					tb.watchOrigin(base)
					if a.path == "" {
						brFetchAttack(t, tb, o.origin+"/"+a.page)
						return
					}
					ev, err := chromedp.Run(tb.ctx, chromedp.WaitEvent(network.ResponseReceived, isDoc,
						chromedp.Navigate(o.origin+"/"+a.page)))
					if err != nil {
						t.Fatalf("the hostile form did not reach the server: %v", err)
					}
					if err := chromedp.Do(tb.ctx, chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
						t.Fatalf("the answer to the hostile form did not load: %v", err)
					}
					for _, r := range tb.takeRequests() {
						t.Logf("sent: %s", r.String())
						if r.method == http.MethodPost && r.status != 0 && r.status < 400 {
							t.Errorf("the server accepted a cross-origin form POST: %s", r.String())
						}
					}
					if ev.Response.URL != base+a.path || ev.Response.Status < 400 {
						t.Errorf("the cross-origin form POST %s was accepted: the browser ended on %s with %d", a.path, ev.Response.URL, ev.Response.Status)
					}
				})
			}
		})
	}

	// Nothing changed: no item, the session lives.
	req, _ := http.NewRequest(http.MethodGet, base+"/items/?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct{ ID, Name string }
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /items/: %d %v", resp.StatusCode, err)
	}
	for _, it := range list.Items {
		t.Errorf("a cross-origin request created item %s %q", it.ID, it.Name)
	}
	if status, user := brUsersMe(t, c, base, sess.Value); status != http.StatusOK || user != "admin" {
		t.Errorf("the session no longer works after the attacks (a forged logout?): /users/me = %d %q", status, user)
	}
	if now := tb.cookies(base)[brSessionCookie]; now == nil || now.Value != sess.Value {
		t.Errorf("the browser's session cookie changed during the attacks: was %q, now %+v", sess.Value, now)
	}
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(base+"/login")); err != nil {
		t.Fatal(err)
	}
	user, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`(document.getElementById("user") || {}).textContent || ""`))
	if err != nil || user != "admin" {
		t.Errorf("the browser is no longer signed in after the attacks: /login shows user %q (%v)", user, err)
	}
}

// brFetchAttack runs the hostile script at u and checks what it achieved.
func brFetchAttack(t *testing.T, tb *brTab, u string) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Run(tb.ctx, chromedp.Evaluate[map[string]brFetchOutcome](`window.__attack`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the hostile script: %v", err)
	}
	for _, r := range tb.takeRequests() {
		t.Logf("sent: %s", r.String())
		if r.method == http.MethodPost && r.status != 0 && r.status < 400 {
			t.Errorf("the server accepted a cross-origin POST: %s", r.String())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(res)) {
		t.Logf("script saw %s: %+v", k, res[k])
	}
	if r := res["postJSON"]; r.Error == "" {
		t.Errorf("a credentialed cross-origin JSON POST resolved (CORS let it through): %+v", r)
	}
	if r := res["getMe"]; r.Error == "" || strings.Contains(r.Body, "admin") {
		t.Errorf("the hostile script read GET /users/me cross-origin: %+v", r)
	}
	for _, k := range []string{"postNoCORS", "getMeNoCORS"} {
		if r := res[k]; r.Error == "" && (r.Type != "opaque" || r.Body != "" || r.Status != 0) {
			t.Errorf("%s: the hostile script could read the answer: %+v", k, r)
		}
	}
}

// TestBrowserClickjacking frames the signed-in /login and the docs UI from
// a hostile sibling origin: the frame must not get the page (Chromium
// shows its own error page instead). A frameable page framed the same way
// proves the check sees a rendered frame.
func TestBrowserClickjacking(t *testing.T) {
	brBegin(t)
	p, _, _ := brServer(t)
	frameable := brQuietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>frameable</title><form><input id="username" name="username"></form>`)
	}))
	hostile := brHostile(t, p.URL, "")
	b := brStart(t, brTimeout)
	tb := b.tab(t)
	brLogin(t, tb, p.URL)

	cases := []struct {
		name, target string
		rendered     bool
	}{
		{"control: a page without framing protection", frameable.URL + "/", true},
		{"the sign-in page", p.URL + "/login", false},
		{"the docs UI", p.URL + "/docs", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb.take()
			if err := chromedp.Do(tb.ctx, chromedp.Navigate(hostile.URL+"/frame?frame="+url.QueryEscape(tc.target))); err != nil {
				t.Fatal(err)
			}
			loaded, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`window.__framed`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			content, err := brFrameContent(tb, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			_, _, logs := tb.take()
			var framing []string
			for _, l := range logs {
				if strings.Contains(l, "frame-ancestors") || strings.Contains(l, "X-Frame-Options") {
					framing = append(framing, l)
				}
			}
			t.Logf("iframe: %s; frame document: %s; framing refusals in the console: %q", loaded, content, framing)
			rendered := strings.HasPrefix(content, "rendered")
			if rendered != tc.rendered {
				t.Errorf("%s framed from %s: rendered = %v, want %v (%s)", tc.target, hostile.URL, rendered, tc.rendered, content)
			}
			if !tc.rendered && len(framing) == 0 {
				t.Logf("note: no framing refusal in the console")
			}
		})
	}
}

// brFrameContent looks inside the page's child frame (a same-site frame:
// it shares the page's process and target) and says whether the target's
// document is in it ("rendered ...").
func brFrameContent(tb *brTab, target string) (string, error) {
	tree, err := chromedp.Call(tb.ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return "", err
	}
	if len(tree.FrameTree.ChildFrames) != 1 {
		return "", fmt.Errorf("the hostile page has %d frames, want 1", len(tree.FrameTree.ChildFrames))
	}
	fr := tree.FrameTree.ChildFrames[0].Frame
	desc := fmt.Sprintf("url=%q unreachable=%q origin=%q", fr.URL, fr.UnreachableURL, fr.SecurityOrigin)
	world, err := chromedp.Call(tb.ctx, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: fr.ID, WorldName: "fortapi-test"})
	if err != nil {
		return "not inspectable (" + err.Error() + ") " + desc, nil
	}
	res, err := chromedp.Call(tb.ctx, cdpruntime.Evaluate, cdpruntime.EvaluateParams{
		Expression:    `JSON.stringify({form: document.getElementById("username") !== null, origin: location.origin, text: (document.body ? document.body.innerText : "").slice(0, 80)})`,
		ContextID:     world.ExecutionContextID,
		ReturnByValue: new(true),
	})
	if err != nil {
		return "not inspectable (" + err.Error() + ") " + desc, nil
	}
	var s string
	var v struct {
		Form         bool
		Origin, Text string
	}
	if json.Unmarshal(res.Result.Value, &s) != nil || json.Unmarshal([]byte(s), &v) != nil {
		return "", fmt.Errorf("frame inspection returned %s", res.Result.Value)
	}
	tu, _ := url.Parse(target)
	if v.Origin == tu.Scheme+"://"+tu.Host {
		return fmt.Sprintf("rendered (text %q, username field %v) %s", v.Text, v.Form, desc), nil
	}
	return fmt.Sprintf("not rendered (document origin %q, text %q) %s", v.Origin, v.Text, desc), nil
}

// brConsoleProblem tells whether a console line (as brTab records them)
// is a script error or a policy violation. Other lines, such as the
// network error of a missing /favicon.ico, are only logged.
func brConsoleProblem(l string) bool {
	for _, p := range []string{"exception", "console.error", "console.assert", "securitypolicyviolation",
		"log security/", "log violation/", "log javascript/error"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(l), "content security policy")
}

// TestBrowserNoCSPViolations loads the docs UI and the sign-in page and
// requires them to work under their own policies: no CSP violation, no
// script error, and the docs UI really renders the server's document.
func TestBrowserNoCSPViolations(t *testing.T) {
	brBegin(t)
	p, c, _ := brServer(t)
	resp, err := c.Get(p.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info  struct{ Title string }
		Paths map[string]map[string]json.RawMessage
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc.Info.Title == "" {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	operations := 0
	for _, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				operations++
			}
		}
	}
	b := brStart(t, brTimeout)
	tb := b.tab(t)

	cases := []struct {
		name, path string
		ready      chromedp.Action[chromedp.Void] // the page rendered
		check      func(t *testing.T)
	}{
		{"docs UI", "/docs", chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS("#swagger-ui .information-container .title")),
			chromedp.WaitVisible(chromedp.CSS("#swagger-ui .opblock")),
		), func(t *testing.T) {
			title, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("#swagger-ui .information-container .title")))
			if err != nil || !strings.Contains(title, doc.Info.Title) {
				t.Errorf("the docs UI shows the title %q (%v), want the document's %q", title, err, doc.Info.Title)
			}
			ops, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#swagger-ui .opblock").length`))
			if err != nil || ops != operations {
				t.Errorf("the docs UI shows %d operations (%v), the document has %d", ops, err, operations)
			}
			t.Logf("docs UI rendered %q with %d operations", title, ops)
		}},
		{"sign-in page", "/login", chromedp.WaitVisible(chromedp.ID("submit")), func(t *testing.T) { brStyled(t, tb.ctx, "#submit") }},
		{"error page", "/no/such/page", chromedp.WaitVisible(chromedp.ID("error-title")), func(t *testing.T) { brStyled(t, tb.ctx, "") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb.take()
			resp, s, err := tb.visit(p.URL+tc.path, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			want := http.StatusOK
			if strings.HasPrefix(tc.path, "/no/") {
				want = http.StatusNotFound // the HTML error page a browser gets
			}
			if resp.Status != int64(want) || brHeader(resp.Headers, "Content-Security-Policy") == "" {
				t.Fatalf("%s: %d, CSP %q", tc.path, resp.Status, brHeader(resp.Headers, "Content-Security-Policy"))
			}
			if !s.Hooked {
				t.Fatal("the violation hook is not active on the page")
			}
			if err := chromedp.Do(tb.ctx, tc.ready); err != nil {
				t.Fatalf("%s did not render: %v", tc.path, err)
			}
			tc.check(t)
			// Let late work (lazy rendering, deferred fetches) report too.
			if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[brSettled](brSettle, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatal(err)
			}
			ev, csp, logs := tb.take()
			for _, v := range csp {
				t.Errorf("CSP violation on %s: %s blocked %q (sample %q)", tc.path, v.directive, v.blocked, v.sample)
			}
			for _, e := range ev {
				if e.kind == "exception" || e.kind == "dialog" || e.kind == "call" {
					t.Errorf("%s on %s: %s", e.kind, tc.path, e.detail)
				}
			}
			for _, l := range logs {
				if brConsoleProblem(l) {
					t.Errorf("console on %s: %s", tc.path, l)
				} else {
					t.Logf("console on %s: %s", tc.path, l)
				}
			}
		})
	}
}

// TestBrowserDocsTryItOutSendsCSRF: a browser signed in through the form
// holds cookies, so the API refuses its unsafe requests without a CSRF
// token; the docs UI's request interceptor fetches one from /csrftoken/,
// and a "Try it out" POST through it succeeds where a plain fetch is
// refused.
func TestBrowserDocsTryItOutSendsCSRF(t *testing.T) {
	t.Parallel()
	browsertest.Require(t)
	p, _, _ := brServer(t)
	b := brStart(t, brTimeout)
	tb := b.tab(t)
	brLogin(t, tb, p.URL)
	if _, _, err := tb.visit(p.URL+"/docs", "docs"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS("#swagger-ui .opblock"))); err != nil {
		t.Fatalf("the docs UI did not render: %v", err)
	}
	const post = `(async (intercept) => {
		let req = {method: "POST", url: "/items/", headers: {"Content-Type": "application/json"}};
		if (intercept) { req = await window.ui.getConfigs().requestInterceptor(req); }
		const r = await fetch(req.url, {method: req.method, headers: req.headers, credentials: "same-origin",
			body: JSON.stringify({name: "from the docs", price: 1})});
		return r.status;
	})`
	for _, tc := range []struct {
		name      string
		intercept bool
		want      int
	}{
		{"plain fetch with the session cookie", false, 403},
		{"through the docs UI's interceptor", true, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf("%s(%v)", post, tc.intercept), chromedp.EvalAwaitPromise))
			if err != nil || got != tc.want {
				t.Fatalf("POST /items/ from the docs page: %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

// brStyled checks that the page's nonce'd stylesheet applied (the site
// header has its rule's bottom border; button, if given, its background)
// and that the page links to /docs.
func brStyled(t *testing.T, ctx context.Context, button string) {
	t.Helper()
	js := `(() => {
		const h = document.querySelector("header.site"), d = document.querySelector('a[href="/docs"]');
		const b = ` + strconv.Quote(button) + ` ? document.querySelector(` + strconv.Quote(button) + `) : null;
		return [h ? getComputedStyle(h).borderBottomStyle : "", b ? getComputedStyle(b).backgroundColor : "", d ? d.textContent : ""];
	})()`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil || len(got) != 3 {
		t.Fatalf("reading the computed style: %v %v", got, err)
	}
	if got[0] != "solid" {
		t.Errorf("the stylesheet did not apply: header border-bottom-style %q", got[0])
	}
	if button != "" && got[1] != "rgb(26, 95, 180)" {
		t.Errorf("the stylesheet did not apply: %s background %q", button, got[1])
	}
	if got[2] == "" {
		t.Error("no link to /docs")
	}
}

// brSegMark starts the text of the marker paragraph before each segment
// of a batch item's description; brSegEnd is the text of the last one.
const (
	brSegMark = "fortapi-xss-segment-"
	brSegEnd  = "fortapi-xss-segments-end"
)

// brBatch is an item whose description is the stored descriptions of
// several vectors, each after its marker paragraph.
type brBatch struct {
	id   string
	jobs []*brXSSJob
}

func (b *brBatch) lines() string {
	var l []string
	for _, j := range b.jobs {
		l = append(l, strconv.Itoa(j.line))
	}
	return strings.Join(l, ",")
}

// brBatchSettled is brSettled and, on a batch item's page, for each
// segment whether the page's DOM of it is the DOM of the stored
// description parsed alone.
type brBatchSettled struct {
	brSettled
	Segs []struct {
		Line int  `json:"line"`
		Same bool `json:"same"`
	} `json:"segs"`
}

// brBatchMax bounds a batch item's description (the API takes 10,000
// characters) and its segments.
const (
	brBatchMaxLen  = 9000
	brBatchMaxSegs = 24
)

// brMakeBatches packs the vectors' stored descriptions into batch items
// and creates them. A batch whose description the server does not store
// byte for byte (the sanitizer would change how a segment reads) is not
// used: its vectors are returned to be loaded alone.
func brMakeBatches(t *testing.T, c *http.Client, base, tok string, jobs []*brXSSJob) (batches []*brBatch, alone []*brXSSJob) {
	t.Helper()
	var groups [][]*brXSSJob
	var cur []*brXSSJob
	size := 0
	for _, j := range jobs {
		n := len(brSegMark) + 16 + len(j.stored)
		if len(cur) > 0 && (size+n > brBatchMaxLen || len(cur) == brBatchMaxSegs) {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, j)
		size += n
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	for _, g := range groups {
		var desc strings.Builder
		name := ""
		for _, j := range g {
			fmt.Fprintf(&desc, "<p>%s%d</p>%s", brSegMark, j.line, j.stored)
			if name == "" && j.named {
				name = j.payload // the page's title and heading show a vector too
			}
		}
		desc.WriteString("<p>" + brSegEnd + "</p>")
		if name == "" {
			name = fmt.Sprintf("xss batch from line %d", g[0].line)
		}
		status, it, err := brCreateItem(c, base, tok, name, desc.String())
		switch {
		case err != nil || status != http.StatusCreated:
			t.Fatalf("creating the batch item of lines %d-%d: %d %v", g[0].line, g[len(g)-1].line, status, err)
		case it.Description != desc.String():
			t.Logf("the batch of lines %d-%d was not stored as sent: its vectors are loaded alone", g[0].line, g[len(g)-1].line)
			alone = append(alone, g...)
		default:
			batches = append(batches, &brBatch{id: it.ID, jobs: g})
		}
	}
	return batches, alone
}

// brBatchSettle settles a batch item's page like brSettle and describes
// each segment: the nodes between its marker paragraph and the next,
// serialized, must be the stored description parsed alone in the same
// place (body, main, div) by an inert DOMParser, which runs nothing.
func brBatchSettle(jobs []*brXSSJob) string {
	type seg struct {
		Line int    `json:"line"`
		HTML string `json:"html"`
	}
	var segs []seg
	for _, j := range jobs {
		segs = append(segs, seg{j.line, j.stored})
	}
	js, _ := json.Marshal(segs)
	return `(function (segs) { return new Promise(function (resolve) {
  var fired = false;
  var done = function () {
    if (fired) { return; }
    fired = true;
    var d = document.getElementById("item-description");
    var r = {hooked: window.__fortapiHooked === true, item: d !== null, href: location.href, segs: []};
    if (d === null) { resolve(r); return; }
    var kids = Array.prototype.slice.call(d.childNodes), marks = [];
    kids.forEach(function (n, i) {
      if (n.nodeType === 1 && n.tagName === "P" && n.childNodes.length === 1 && n.firstChild.nodeType === 3 &&
          (n.textContent.indexOf("` + brSegMark + `") === 0 || n.textContent === "` + brSegEnd + `")) {
        marks.push({i: i, text: n.textContent});
      }
    });
    var inert = document.implementation.createHTMLDocument("");
    segs.forEach(function (s, k) {
      var same = false;
      var m = marks[k], next = marks[k + 1];
      if (marks.length === segs.length + 1 && m.text === "` + brSegMark + `" + s.line &&
          (k + 1 < segs.length ? next.text === "` + brSegMark + `" + segs[k + 1].line : next.text === "` + brSegEnd + `")) {
        var got = inert.createElement("div");
        for (var i = m.i + 1; i < next.i; i++) { got.appendChild(inert.importNode(kids[i], true)); }
        var alone = new DOMParser().parseFromString("<!doctype html><html><body><main><div id=\"d\">" + s.html + "</div></main></body></html>", "text/html").getElementById("d");
        same = alone !== null && got.innerHTML === alone.innerHTML;
      }
      r.segs.push({line: s.line, same: same});
    });
    resolve(r);
  };
  requestAnimationFrame(function () { setTimeout(done, 0); });
  setTimeout(done, 1000);
}); })(` + string(js) + `)`
}

// brFetchItemPages fetches every vector's item page without a browser and
// checks what the browser does not see when the vector is loaded in a
// batch item: the page's policy is strict with a nonce of its own
// (seen answers where a nonce was seen before, "" if never), the name is
// text in the title and the heading, and the description is exactly the
// stored one.
func brFetchItemPages(t *testing.T, c *http.Client, base, session string, jobs []*brXSSJob, seen func(j *brXSSJob, nonce string) string) {
	t.Helper()
	queue := make(chan *brXSSJob)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for j := range queue {
				if err := brCheckItemPage(c, base, session, j, seen); err != nil {
					t.Errorf("line %d (item %s) %q: %v", j.line, j.id, brShort(j.payload), err)
				}
			}
		})
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
}

func brCheckItemPage(c *http.Client, base, session string, j *brXSSJob, seen func(j *brXSSJob, nonce string) string) error {
	req, err := http.NewRequest(http.MethodGet, base+"/items/"+j.id+"/view", nil)
	if err != nil {
		return err
	}
	req.AddCookie(&http.Cookie{Name: brSessionCookie, Value: session})
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /items/%s/view = %d: the payload was not tested", j.id, resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	nonce, problems := brCheckStrictCSP(csp)
	if len(problems) > 0 {
		return fmt.Errorf("Content-Security-Policy %q: %s", csp, problems)
	}
	if prev := seen(j, nonce); prev != "" {
		return fmt.Errorf("the CSP nonce %s was already sent for %s", nonce, prev)
	}
	page := string(b)
	if want := `<div class="item-description" id="item-description">` + j.stored + "</div>"; !strings.Contains(page, want) {
		return fmt.Errorf("the page does not show the stored description %q as stored", brShort(j.stored))
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return err
	}
	var title, heading *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Title {
			title = n
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.H1 && slices.Contains(n.Attr, html.Attribute{Key: "id", Val: "item-name"}) {
			heading = n
		}
	}
	textOnly := func(n *html.Node, want string) bool {
		return n != nil && n.FirstChild != nil && n.FirstChild == n.LastChild && n.FirstChild.Type == html.TextNode && n.FirstChild.Data == want
	}
	if !textOnly(title, j.name+" · fortapi") || !textOnly(heading, j.name) {
		return fmt.Errorf("the name %q is not exactly the text of the title and the heading", brShort(j.name))
	}
	return nil
}

// brProveSegmentCheck loads batch pages whose segments are known to parse
// otherwise than alone and requires brBatchSettle to say so: a segment
// the page shows differently, and a segment that swallows the markers
// after it.
func brProveSegmentCheck(t *testing.T, b *brBrowser) {
	t.Helper()
	seg := func(line int, html string) *brXSSJob { return &brXSSJob{line: line, stored: html} }
	cases := []struct {
		name string
		page string // the description as the page shows it
		segs []*brXSSJob
		want []bool
	}{
		{"a segment shown otherwise", "<b>x</b>", []*brXSSJob{seg(1, "<b>x</b>"), seg(2, "<b>y</b>"), seg(3, "<em>z</em>")}, []bool{true, false, true}},
		{"a segment swallowing the markers after it", "", []*brXSSJob{seg(1, "<b>x</b>"), seg(2, "<textarea>y"), seg(3, "<em>z</em>")}, []bool{false, false, false}},
	}
	pages := map[string]string{}
	for _, tc := range cases {
		var d strings.Builder
		for _, s := range tc.segs {
			html := s.stored
			if s.line == 2 && tc.page == "<b>x</b>" {
				html = "<i>y</i>"
			}
			fmt.Fprintf(&d, "<p>%s%d</p>%s", brSegMark, s.line, html)
		}
		pages[tc.name] = d.String() + "<p>" + brSegEnd + "</p>"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>segments</title><main><div id=\"item-description\">%s</div></main>", pages[r.URL.Query().Get("case")])
	}))
	defer srv.Close()
	tb := b.tab(t)
	for _, tc := range cases {
		_, s, err := brVisit[brBatchSettled](tb, srv.URL+"/?case="+url.QueryEscape(tc.name), tc.name, brBatchSettle(tc.segs))
		if err != nil {
			t.Fatalf("segment check %s: %v", tc.name, err)
		}
		var got []bool
		for _, sg := range s.Segs {
			got = append(got, sg.Same)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("segment check: on a page with %s, the segments parse as alone: %v, want %v: batches would prove nothing", tc.name, got, tc.want)
		}
	}
}
