package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/fortapi/fortapi/scan"
)

const scanHelp = `Audits an HTTP API from the outside, as an attacker would: it reads the
OpenAPI document, logs in the given users, and checks transport, headers and
CORS, authentication and JWT forgeries, authorization across users (BOLA,
BFLA, mass assignment), input handling (schema-negative requests, SQL
injection, reflected XSS, verbose errors, oversized bodies) and exposure
(debug endpoints, secrets in answers). See docs/scan.md.

It never leaves the target's host and port, sends PUT/PATCH/DELETE only to
objects it created itself (unless --allow-destructive), and sends wrong
passwords only for throwaway usernames or accounts it created, so that no
real account is locked out.

Credentials: --user, --admin, --token and --admin-token show in ps and in
the shell history. Prefer the environment: FORTAPI_SCAN_USER (one
NAME:PASSWORD per line), FORTAPI_SCAN_ADMIN, FORTAPI_SCAN_TOKEN (one token
per line), FORTAPI_SCAN_ADMIN_TOKEN, or the same names with _FILE naming a
file that holds the value. A flag given on the command line wins over its
variables.

Exit status: 0 when no finding reaches --fail-on, 1 when one does (or the
scan could not run), 2 for usage errors.
`

// multiFlag is a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// scanCredFlags are the credential flags and their variables.
func scanCredFlags() map[string]string {
	return map[string]string{"user": "FORTAPI_SCAN_USER", "admin": "FORTAPI_SCAN_ADMIN", "token": "FORTAPI_SCAN_TOKEN", "admin-token": "FORTAPI_SCAN_ADMIN_TOKEN"}
}

// credEnv reads NAME or NAME_FILE (one value a line).
func credEnv(getenv func(string) string, name string) ([]string, error) {
	v := getenv(name)
	if f := getenv(name + "_FILE"); f != "" {
		if v != "" {
			return nil, fmt.Errorf("both %s and %s_FILE are set", name, name)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s_FILE: %v", name, err)
		}
		v = string(b)
	}
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

func runScan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("scan", scanHelp)
	c.args = " URL"
	var users, tokens multiFlag
	c.fs.Var(&users, "user", "a user `NAME:PASSWORD`, logged in through the OAuth2 password grant; repeat for each user (two for the authorization checks)")
	admin := c.fs.String("admin", "", "an administrator `NAME:PASSWORD` (for BFLA and objects only an admin creates)")
	c.fs.Var(&tokens, "token", "a bearer `TOKEN` of a user, for APIs whose login is not an OAuth2 password grant; repeatable")
	adminToken := c.fs.String("admin-token", "", "a bearer `TOKEN` of an administrator")
	openapi := c.fs.String("openapi", "", "the OpenAPI document: a `URL` on the target or a FILE (default: /openapi.json, /openapi.yaml, /docs/openapi.json)")
	tokenURL := c.fs.String("token-url", "", "the login `URL` (default: the document's oauth2 tokenUrl, else /token)")
	format := c.fs.String("format", "text", "report `FORMAT`: text, json, sarif or html")
	out := c.fs.String("out", "", "write the report to `FILE` (default: stdout)")
	checks := c.fs.String("checks", "", "comma-separated `LIST` of check categories ("+strings.Join(scan.Categories(), ", ")+") or finding ids (default: all)")
	maxReq := c.fs.Int("max-requests", 3000, "request budget `N`")
	rate := c.fs.Float64("rate", 20, "requests per second `R`")
	insecure := c.fs.Bool("insecure", false, "accept an untrusted (self-signed) certificate; expired or wrong-name certificates are still reported")
	cacert := c.fs.String("cacert", "", "trust the CA certificates in the PEM `FILE` instead of the system's")
	httpURL := c.fs.String("http-url", "", "the target's plain-HTTP `URL` (http://host:port), checked for a redirect to HTTPS")
	failOn := c.fs.String("fail-on", "none", "exit 1 when a finding has at least `SEVERITY`: info, low, medium, high, critical or none")
	allowDestructive := c.fs.Bool("allow-destructive", false, "allow PUT/PATCH/DELETE on objects the scan did not create")
	credFlags := scanCredFlags()
	for f := range credFlags {
		c.commandLineOnly(f)
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			printScanHelp(c, stdout)
			return exitOK
		}
	}
	// the credential flags' variables are FORTAPI_SCAN_*, read below
	env := func(k string) string {
		for f := range credFlags {
			if k == envName(f) {
				return ""
			}
		}
		return getenv(k)
	}
	pos, code, ok := c.parseArgs(args, []string{"URL"}, env, stdout, stderr)
	if !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "fortapi scan: "+format+"\n", a...)
		return code
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromEnv := func(flagName string) ([]string, error) {
		if set[flagName] {
			return nil, nil
		}
		return credEnv(getenv, credFlags[flagName])
	}
	opts := scan.Options{Target: pos[0], OpenAPI: *openapi, TokenURL: *tokenURL, MaxRequests: *maxReq, Rate: *rate,
		Insecure: *insecure, HTTPURL: *httpURL, AllowDestructive: *allowDestructive}
	envUsers, err := fromEnv("user")
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	for _, u := range append(append([]string{}, users...), envUsers...) {
		cr, err := scan.ParseCredential(u)
		if err != nil {
			return fail(exitUsage, "invalid --user: %v", err)
		}
		opts.Users = append(opts.Users, cr)
	}
	envAdmin, err := fromEnv("admin")
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if *admin != "" || len(envAdmin) > 0 {
		v := *admin
		if v == "" {
			v = envAdmin[0]
		}
		cr, err := scan.ParseCredential(v)
		if err != nil {
			return fail(exitUsage, "invalid --admin: %v", err)
		}
		opts.Admin = &cr
	}
	envTokens, err := fromEnv("token")
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	opts.Tokens = append(append(opts.Tokens, tokens...), envTokens...)
	opts.AdminToken = *adminToken
	if envAT, err := fromEnv("admin-token"); err != nil {
		return fail(exitUsage, "%v", err)
	} else if opts.AdminToken == "" && len(envAT) > 0 {
		opts.AdminToken = envAT[0]
	}
	if *checks != "" {
		opts.Checks = strings.Split(*checks, ",")
	}
	switch *format {
	case "text", "json", "sarif", "html":
	default:
		return fail(exitUsage, "invalid --format %q: text, json, sarif or html", *format)
	}
	var failSev scan.Severity
	if *failOn != "none" && *failOn != "" {
		if failSev, err = scan.ParseSeverity(*failOn); err != nil {
			return fail(exitUsage, "invalid --fail-on: %v", err)
		}
	}
	if !(*rate > 0 && *rate <= 10000) {
		return fail(exitUsage, "invalid --rate %v: want a number of requests per second above 0, at most 10000", *rate)
	}
	if *maxReq < 1 {
		return fail(exitUsage, "invalid --max-requests %d: want at least 1", *maxReq)
	}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			return fail(exitUsage, "--cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fail(exitUsage, "--cacert %s holds no PEM certificate", *cacert)
		}
		opts.RootCAs = pool
	}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			opts.Progress = progressBar(f)
			defer fmt.Fprint(f, "\r\033[K")
		}
	}
	rep, err := scan.Run(ctx, opts)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fail(exitError, "interrupted")
		}
		return fail(exitError, "%v", err)
	}
	var buf bytes.Buffer
	switch *format {
	case "json":
		err = scan.WriteJSON(&buf, rep)
	case "sarif":
		err = scan.WriteSARIF(&buf, rep)
	case "html":
		err = scan.WriteHTML(&buf, rep)
	default:
		err = scan.WriteText(&buf, rep)
	}
	if err != nil {
		return fail(exitError, "writing the report: %v", err)
	}
	if *out != "" {
		if err := os.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
			return fail(exitError, "%v", err)
		}
	} else if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fail(exitError, "%v", err)
	}
	if failSev != "" && rep.Count(failSev) > 0 {
		fmt.Fprintf(stderr, "fortapi scan: %d finding(s) at or above %s\n", rep.Count(failSev), failSev)
		return exitError
	}
	return exitOK
}

// progressBar draws one line on a terminal.
func progressBar(w io.Writer) func(scan.Progress) {
	var mu sync.Mutex
	return func(p scan.Progress) {
		mu.Lock()
		defer mu.Unlock()
		const width = 24
		done := 0
		if p.Total > 0 {
			done = width * p.Done / p.Total
		}
		fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d %-9s %d requests", strings.Repeat("#", done), strings.Repeat(".", width-done), p.Done, p.Total, p.Check, p.Requests)
	}
}

func printScanHelp(c *command, w io.Writer) {
	fmt.Fprintf(w, "Usage: fortapi scan URL [flags]\n\n%s\nFlags (each also as the environment variable shown):\n", c.help)
	c.fs.VisitAll(func(f *flag.Flag) {
		writeFlag(w, f)
		if v, ok := scanCredFlags()[f.Name]; ok {
			fmt.Fprintf(w, " [%s, %s_FILE]\n", v, v)
			return
		}
		fmt.Fprintf(w, " [%s]\n", envName(f.Name))
	})
}
