// Command vulnapi runs the deliberately vulnerable test target of
// `fortapi scan` on loopback, for manual scans:
//
//	go run ./internal/vulnapi/cmd/vulnapi --flaws all|none|LIST
//
// It prints its URLs, the seeded credentials and the planted flaws, and
// runs until interrupted. Never deploy it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fortapi/fortapi/internal/vulnapi"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulnapi:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vulnapi", flag.ContinueOnError)
	flaws := fs.String("flaws", "all", `"all", "none" or a comma-separated list of flaws (see --list)`)
	list := fs.Bool("list", false, "print the flaws with their finding ids and exit")
	addr := fs.String("addr", "127.0.0.1:8443", "HTTPS address (loopback only)")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", `plain-HTTP address (loopback only); "" for none unless http-serves-api is planted`)
	lifetime := fs.Duration("token-lifetime", 15*time.Minute, "access token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, e := range vulnapi.Catalog() {
			fmt.Fprintf(out, "%-22s %-28s %-22s %s\n", e.Flaw, e.Finding, e.Operation, e.Parameter)
		}
		return nil
	}
	set, err := vulnapi.ParseFlaws(*flaws)
	if err != nil {
		return err
	}
	so := vulnapi.ServeOptions{Addr: *addr, HTTP: *httpAddr != "", HTTPAddr: *httpAddr}
	srv, err := vulnapi.Start(vulnapi.Options{Flaws: set, TokenLifetime: *lifetime}, so)
	if err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintln(out, "vulnapi: a DELIBERATELY VULNERABLE test target, on loopback only. Never deploy it.")
	fmt.Fprintf(out, "HTTPS:   %s   (self-signed; scan with --insecure)\n", srv.URL)
	if srv.HTTPURL != "" {
		fmt.Fprintf(out, "HTTP:    %s\n", srv.HTTPURL)
	}
	fmt.Fprintf(out, "OpenAPI: %s/openapi.json   token URL: %s/token\n", srv.URL, srv.URL)
	for _, u := range srv.Target().Users() {
		fmt.Fprintf(out, "user:    %s:%s (%s)\n", u.Username, u.Password, u.Role)
	}
	fmt.Fprintf(out, "flaws:   %s\n", set)
	fmt.Fprintf(out, "example: fortapi scan %s --insecure --user %s:%s --user %s:%s --admin %s:%s\n",
		srv.URL, vulnapi.UserAlice, vulnapi.PasswordAlice, vulnapi.UserBob, vulnapi.PasswordBob, vulnapi.UserAdmin, vulnapi.PasswordAdmin)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
