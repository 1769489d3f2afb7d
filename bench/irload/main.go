// Command irload sends an exact number of requests of one scenario to a
// server on loopback, for counting the server's instructions per request
// under valgrind's callgrind (bench/callgrind.sh drives it). It opens
// -conns keep-alive connections, sends -warm requests over them, runs the
// -on command (callgrind_control -i on PID), sends -n requests, runs the
// -off command (callgrind_control -d PID), and exits non-zero on any
// answer but the expected status, so that a count of failed requests is
// never reported.
//
//	irload -url https://127.0.0.1:8443 -cacert dev.pem -token T \
//	    -scenario protected -n 4000 -on 'callgrind_control -i on 123'
//
// Scenarios: protected (GET /protected), post (POST /items/, a new item
// each time), get (GET -item, an item's path), healthz (GET /healthz).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

type scenario struct {
	method, path, body string
	status             int
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "irload:", err)
		os.Exit(1)
	}
}

func run() error {
	base := flag.String("url", "", "server base URL (loopback only)")
	cacert := flag.String("cacert", "", "PEM file of the server's certificate (HTTPS)")
	token := flag.String("token", "", "bearer token")
	name := flag.String("scenario", "protected", "protected, post, get or healthz")
	item := flag.String("item", "", "path of an item, for -scenario get")
	n := flag.Int("n", 4000, "counted requests")
	warm := flag.Int("warm", 300, "requests before -on")
	conns := flag.Int("conns", 4, "keep-alive connections")
	on := flag.String("on", "", "shell command run after the warm-up")
	off := flag.String("off", "", "shell command run after the counted requests")
	flag.Parse()

	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("-url must be http(s)://127.0.0.1:PORT (got %q)", *base)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		return fmt.Errorf("-url must be on loopback (got host %q)", h)
	}
	if *n < 1 || *n > 1_000_000 || *warm < 0 || *warm > 1_000_000 || *conns < 1 || *conns > 256 {
		return errors.New("need 1 <= -n <= 1e6, 0 <= -warm <= 1e6, 1 <= -conns <= 256")
	}
	sc, err := pick(*name, *item)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", *cacert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	send := func(count int) error { return blast(c, *base, *token, sc, count, *conns) }
	// The first round opens every connection, so none is opened while counting.
	if err := send(max(*warm, *conns)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := sh(*on); err != nil {
		return err
	}
	start := time.Now()
	if err := send(*n); err != nil {
		return err
	}
	el := time.Since(start)
	if err := sh(*off); err != nil {
		return err
	}
	fmt.Printf("%d %s %s in %v over %d connections\n", *n, sc.method, sc.path, el.Round(time.Millisecond), *conns)
	return nil
}

func pick(name, item string) (scenario, error) {
	switch name {
	case "protected":
		return scenario{"GET", "/protected", "", 200}, nil
	case "healthz":
		return scenario{"GET", "/healthz", "", 200}, nil
	case "post":
		return scenario{"POST", "/items/", `{"name":"bench item","description":"a description","price":12.5,"tax":2.5}`, 201}, nil
	case "get":
		if !strings.HasPrefix(item, "/items/") {
			return scenario{}, errors.New("-scenario get needs -item /items/ID")
		}
		return scenario{"GET", item, "", 200}, nil
	}
	return scenario{}, fmt.Errorf("unknown -scenario %q", name)
}

// blast sends count requests over conns workers and fails on the first
// unexpected status.
func blast(c *http.Client, base, token string, sc scenario, count, conns int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := make(chan struct{}, count)
	for range count {
		jobs <- struct{}{}
	}
	close(jobs)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if ctx.Err() != nil {
					return
				}
				if err := one(ctx, c, base, token, sc); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func one(ctx context.Context, c *http.Client, base, token string, sc scenario) error {
	var body io.Reader
	if sc.body != "" {
		body = strings.NewReader(sc.body)
	}
	req, err := http.NewRequestWithContext(ctx, sc.method, base+sc.path, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sc.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != sc.status {
		return fmt.Errorf("%s %s: HTTP %d, want %d: %s", sc.method, sc.path, resp.StatusCode, sc.status, bytes.TrimSpace(b))
	}
	return nil
}

func sh(cmd string) error {
	if cmd == "" {
		return nil
	}
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", cmd, err, out)
	}
	return nil
}
