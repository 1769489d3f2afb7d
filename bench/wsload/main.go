package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// maxTokenAge: access tokens live 15 minutes; a phase must end before.
const maxTokenAge = 13 * time.Minute

type config struct {
	base, cacert, tokens string
	pid                  int
	timeout              time.Duration

	users, conns, perUser, dialers, subs, events, posters int
	interval, hold, duration                              time.Duration
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsload setup|idle|latency|fanout [flags] (see go doc ./bench/wsload)")
		os.Exit(2)
	}
	cmd := os.Args[1]
	var c config
	fs := flag.NewFlagSet("wsload "+cmd, flag.ExitOnError)
	fs.StringVar(&c.base, "url", "", "`URL` of the server, https://127.0.0.1:PORT")
	fs.StringVar(&c.cacert, "cacert", "", "PEM `FILE` of the server's certificate")
	fs.StringVar(&c.tokens, "tokens", "", "`FILE` of the bench users' access tokens (written by setup)")
	fs.IntVar(&c.pid, "pid", 0, "`PID` of the server, for its memory and CPU time")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "bound of the whole run")
	fs.IntVar(&c.users, "users", 1250, "setup: bench users to create")
	fs.IntVar(&c.conns, "conns", 10000, "idle: sockets to open")
	fs.IntVar(&c.perUser, "per-user", 8, "sockets per user (the feed's per-user cap is 8)")
	fs.IntVar(&c.dialers, "dialers", 32, "concurrent upgrades")
	fs.DurationVar(&c.hold, "hold", 30*time.Second, "idle: how long to hold the sockets open (the feed pings every 25 s)")
	fs.IntVar(&c.subs, "subs", 1000, "latency, fanout: subscribers")
	fs.IntVar(&c.events, "events", 200, "latency: items to post")
	fs.DurationVar(&c.interval, "interval", 50*time.Millisecond, "latency: time between two posts")
	fs.IntVar(&c.posters, "posters", 4, "fanout: concurrent posters, each a user of its own")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "fanout: how long to post")
	_ = fs.Parse(os.Args[2:])
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() != "127.0.0.1" {
		fatalf("-url must be https://127.0.0.1:PORT (or http:// for a server run with --insecure-http; traffic stays on loopback), not %q", c.base)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	b, err := newBench(c)
	if err != nil {
		fatalf("%v", err)
	}
	result("load_start", loadavg())
	switch cmd {
	case "setup":
		err = b.setup(ctx)
	case "idle":
		err = b.idle(ctx)
	case "latency":
		err = b.latency(ctx)
	case "fanout":
		err = b.fanout(ctx)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	result("load_end", loadavg())
	if err != nil {
		fatalf("%s: %v", cmd, err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "wsload: "+format+"\n", a...)
	os.Exit(1)
}

func result(k string, v any) { fmt.Printf("result %s=%v\n", k, v) }

type bench struct {
	c     config
	api   *http.Client // keep-alive HTTP/1.1 for the API calls
	ws    *http.Client // one new TLS connection per upgrade
	wsURL string
}

func newBench(c config) (*bench, error) {
	tc := &tls.Config{NextProtos: []string{"http/1.1"}}
	if strings.HasPrefix(c.base, "https://") {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("no certificate in -cacert")
		}
	}
	return &bench{
		c:     c,
		api:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Clone(), MaxIdleConnsPerHost: 64}},
		ws:    &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Clone(), DisableKeepAlives: true}},
		wsURL: "ws" + strings.TrimPrefix(c.base, "http") + "/ws/items",
	}, nil
}

// --- setup -------------------------------------------------------------

// benchPassword is user's password, derived from the bootstrap admin's
// (random per data directory), so that setup can be run again.
func benchPassword(admin, user string) string {
	s := sha256.Sum256([]byte("wsload\x00" + admin + "\x00" + user))
	return "wsload-" + hex.EncodeToString(s[:12])
}

func (b *bench) login(ctx context.Context, user, pw string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := b.call(ctx, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form.Encode(), http.StatusOK, &out)
	return out.AccessToken, err
}

// call sends one API request and decodes the answer into out; it retries
// 429 and 503 answers after their Retry-After, five times at most.
func (b *bench) call(ctx context.Context, method, path, token, ctype, body string, want int, out any) error {
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, b.c.base+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := b.api.Do(req)
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && try < 5 {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(max(1, wait)) * time.Second):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
}

func (b *bench) setup(ctx context.Context) error {
	adminPW := os.Getenv("FORTAPI_ADMIN_PASSWORD")
	if adminPW == "" || b.c.tokens == "" {
		return errors.New("setup needs FORTAPI_ADMIN_PASSWORD and -tokens")
	}
	admin, err := b.login(ctx, "admin", adminPW)
	if err != nil {
		return err
	}
	start := time.Now()
	tokens := make([]string, b.c.users)
	var done atomic.Int64
	err = parallel(ctx, 4, b.c.users, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("wsbench-%05d", i)
		pw := benchPassword(adminPW, name)
		body, _ := json.Marshal(map[string]string{"username": name, "password": pw, "role": "admin"})
		if err := b.call(ctx, http.MethodPost, "/users", admin, "application/json", string(body), http.StatusCreated, nil); err != nil &&
			!strings.Contains(err.Error(), ": 409 ") {
			return err
		}
		tok, err := b.login(ctx, name, pw)
		if err != nil {
			return err
		}
		tokens[i] = tok
		if n := done.Add(1); n%250 == 0 {
			fmt.Fprintf(os.Stderr, "wsload setup: %d users in %v\n", n, time.Since(start).Round(time.Second))
		}
		return nil
	})
	if err != nil {
		return err
	}
	result("setup_users", b.c.users)
	result("setup_seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	var sb strings.Builder
	now := time.Now().Unix()
	for _, t := range tokens {
		fmt.Fprintf(&sb, "%d %s\n", now, t)
	}
	return os.WriteFile(b.c.tokens, []byte(sb.String()), 0o600)
}

// parallel runs fn(0..n-1) on workers goroutines; the first error stops
// the rest.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// readTokens returns the tokens of setup, refusing stale ones.
func (b *bench) readTokens() ([]string, error) {
	f, err := os.Open(b.c.tokens)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		at, tok, ok := strings.Cut(sc.Text(), " ")
		sec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil {
			return nil, errors.New("malformed -tokens file")
		}
		if age := time.Since(time.Unix(sec, 0)); age > maxTokenAge {
			return nil, fmt.Errorf("the tokens are %v old (they live 15 minutes): run setup again", age.Round(time.Second))
		}
		out = append(out, tok)
	}
	return out, sc.Err()
}

// --- sockets -----------------------------------------------------------

type sock struct {
	c    *websocket.Conn
	done context.Context // ends when CloseRead's reader sees the close (idle)
}

// dial opens n sockets, perUser per token from tokens[first:], with
// b.c.dialers concurrent upgrades. read, when set, runs on its own
// goroutine per socket; otherwise the socket only answers pings and closes
// (CloseRead).
func (b *bench) dial(ctx context.Context, tokens []string, first, n int, read func(i int, c *websocket.Conn)) ([]sock, time.Duration, error) {
	if need := first + (n+b.c.perUser-1)/b.c.perUser; need > len(tokens) {
		return nil, 0, fmt.Errorf("%d sockets at %d per user need %d users from #%d; setup made %d", n, b.c.perUser, need-first, first, len(tokens))
	}
	socks := make([]sock, n)
	start := time.Now()
	err := parallel(ctx, b.c.dialers, n, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(dctx, b.wsURL, &websocket.DialOptions{
			HTTPClient: b.ws,
			HTTPHeader: http.Header{"Authorization": {"Bearer " + tokens[first+i/b.c.perUser]}},
		})
		if err != nil {
			if resp != nil {
				return fmt.Errorf("upgrade %d: status %d: %w", i, resp.StatusCode, err)
			}
			return fmt.Errorf("upgrade %d: %w", i, err)
		}
		c.SetReadLimit(1 << 20)
		socks[i].c = c
		if read != nil {
			go read(i, c)
		} else {
			socks[i].done = c.CloseRead(context.Background())
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		closeAll(socks)
	}
	return socks, elapsed, err
}

func closeAll(socks []sock) {
	for _, s := range socks {
		if s.c != nil {
			_ = s.c.CloseNow()
		}
	}
}

// --- idle --------------------------------------------------------------

func (b *bench) idle(ctx context.Context) error {
	tokens, err := b.readTokens()
	if err != nil {
		return err
	}
	before := b.proc()
	cpu0 := b.cpu()
	socks, elapsed, err := b.dial(ctx, tokens, 0, b.c.conns, nil)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	cpu1 := b.cpu()
	after := b.proc()
	n := float64(b.c.conns)
	result("idle_conns", b.c.conns)
	result("upgrade_seconds", fmt.Sprintf("%.2f", elapsed.Seconds()))
	result("upgrades_per_second", fmt.Sprintf("%.0f", n/elapsed.Seconds()))
	result("server_cpu_ms_per_upgrade", fmt.Sprintf("%.2f", (cpu1-cpu0).Seconds()*1000/n))
	result("rss_before_kib", before["VmRSS"])
	result("rss_open_kib", after["VmRSS"])
	// Hold them past the first ping (every 25 s), sampling the RSS.
	peak := after["VmRSS"]
	deadline := time.Now().Add(b.c.hold)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Second)
		peak = max(peak, b.proc()["VmRSS"])
	}
	held := b.proc()
	closed := 0
	for _, s := range socks {
		if s.done.Err() != nil {
			closed++
		}
	}
	result("hold_seconds", b.c.hold.Seconds())
	result("rss_held_kib", held["VmRSS"])
	result("rss_peak_kib", peak)
	result("rss_anon_held_kib", held["RssAnon"])
	result("threads_held", held["Threads"])
	result("kib_per_conn", fmt.Sprintf("%.1f", float64(held["VmRSS"]-before["VmRSS"])/n))
	result("closed_by_server_while_held", closed)
	result("client_rss_kib", selfRSS())
	if closed > 0 {
		return fmt.Errorf("%d idle sockets were closed while held", closed)
	}
	return nil
}

// --- latency -----------------------------------------------------------

func (b *bench) postItem(ctx context.Context, token, name string) error {
	body := fmt.Sprintf(`{"name":%q,"price":1}`, name)
	return b.call(ctx, http.MethodPost, "/items/", token, "application/json", body, http.StatusCreated, nil)
}

func (b *bench) latency(ctx context.Context) error {
	tokens, err := b.readTokens()
	if err != nil {
		return err
	}
	base := time.Now()
	sent := make([]atomic.Int64, b.c.events) // ns since base, just before the POST
	lat := make([][]int64, b.c.subs)         // per subscriber, per event; 0 = not received
	var received atomic.Int64
	allIn := make(chan struct{})
	want := int64(b.c.subs * b.c.events)
	read := func(i int, c *websocket.Conn) {
		lat[i] = make([]int64, b.c.events)
		for {
			_, data, err := c.Read(context.Background())
			now := time.Since(base).Nanoseconds()
			if err != nil {
				return
			}
			var m struct {
				Type string `json:"type"`
				Item struct {
					Name string `json:"name"`
				} `json:"item"`
			}
			if json.Unmarshal(data, &m) != nil || m.Type != "item.created" {
				continue
			}
			seq, err := strconv.Atoi(strings.TrimPrefix(m.Item.Name, "wsload-"))
			if err != nil || seq < 0 || seq >= len(sent) {
				continue
			}
			lat[i][seq] = now - sent[seq].Load()
			if received.Add(1) == want {
				close(allIn)
			}
		}
	}
	socks, _, err := b.dial(ctx, tokens, 0, b.c.subs, read)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	poster := tokens[len(tokens)-1]
	var posts []int64
	tick := time.NewTicker(b.c.interval)
	defer tick.Stop()
	cpu0 := b.cpu()
	for seq := range b.c.events {
		t0 := time.Since(base).Nanoseconds()
		sent[seq].Store(t0)
		if err := b.postItem(ctx, poster, fmt.Sprintf("wsload-%d", seq)); err != nil {
			return err
		}
		posts = append(posts, time.Since(base).Nanoseconds()-t0)
		<-tick.C
	}
	select {
	case <-allIn:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	cpu1 := b.cpu()
	var all, last []int64
	missing := 0
	for e := range b.c.events {
		worst := int64(0)
		for s := range b.c.subs {
			v := lat[s][e]
			if v == 0 {
				missing++
				continue
			}
			all = append(all, v)
			worst = max(worst, v)
		}
		last = append(last, worst)
	}
	result("subscribers", b.c.subs)
	result("events", b.c.events)
	result("interval", b.c.interval)
	result("deliveries", len(all))
	result("missing_deliveries", missing)
	result("latency_ms", pcts(all))
	result("last_subscriber_latency_ms", pcts(last))
	result("post_roundtrip_ms", pcts(posts))
	result("server_cpu_seconds", fmt.Sprintf("%.2f", (cpu1-cpu0).Seconds()))
	result("rss_kib", b.proc()["VmRSS"])
	if missing > 0 {
		return fmt.Errorf("%d deliveries missing", missing)
	}
	return nil
}

// pcts formats p50/p90/p99/max of nanosecond samples in milliseconds.
func pcts(v []int64) string {
	if len(v) == 0 {
		return "none"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	p := func(q float64) float64 { return float64(s[min(len(s)-1, int(q*float64(len(s))))]) / 1e6 }
	return fmt.Sprintf("p50:%.2f,p90:%.2f,p99:%.2f,max:%.2f,n:%d", p(0.50), p(0.90), p(0.99), float64(s[len(s)-1])/1e6, len(s))
}

// --- fanout ------------------------------------------------------------

func (b *bench) fanout(ctx context.Context) error {
	tokens, err := b.readTokens()
	if err != nil {
		return err
	}
	firstPoster := (b.c.subs + b.c.perUser - 1) / b.c.perUser
	if firstPoster+b.c.posters > len(tokens) {
		return fmt.Errorf("need %d users", firstPoster+b.c.posters)
	}
	var delivered atomic.Int64
	var lastAt atomic.Int64
	base := time.Now()
	var mu sync.Mutex
	closes := map[string]int{}
	read := func(_ int, c *websocket.Conn) {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				mu.Lock()
				closes[fmt.Sprint(websocket.CloseStatus(err))]++
				mu.Unlock()
				return
			}
			delivered.Add(1)
			lastAt.Store(time.Since(base).Nanoseconds())
		}
	}
	socks, _, err := b.dial(ctx, tokens, 0, b.c.subs, read)
	if err != nil {
		return err
	}
	var posted, failed atomic.Int64
	cpu0 := b.cpu()
	d0 := delivered.Load()
	start := time.Since(base)
	pctx, cancel := context.WithTimeout(ctx, b.c.duration)
	var wg sync.WaitGroup
	for k := range b.c.posters {
		tok := tokens[firstPoster+k]
		wg.Go(func() {
			for i := 0; pctx.Err() == nil; i++ {
				if err := b.postItem(pctx, tok, fmt.Sprintf("fanout-%d-%d", k, i)); err != nil {
					if pctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				posted.Add(1)
			}
		})
	}
	wg.Wait()
	cancel()
	postEnd := time.Since(base)
	// Let the deliveries drain (bounded).
	want := posted.Load() * int64(b.c.subs)
	for i := 0; i < 100 && delivered.Load()-d0 < want; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	cpu1 := b.cpu()
	got := delivered.Load() - d0
	mu.Lock()
	ends := fmt.Sprint(closes) // sockets the server closed during the run
	mu.Unlock()
	closeAll(socks)
	span := time.Duration(lastAt.Load()) - start
	postSpan := postEnd - start
	result("subscribers", b.c.subs)
	result("posters", b.c.posters)
	result("post_seconds", fmt.Sprintf("%.2f", postSpan.Seconds()))
	result("events_posted", posted.Load())
	result("posts_failed", failed.Load())
	result("events_per_second", fmt.Sprintf("%.0f", float64(posted.Load())/postSpan.Seconds()))
	result("deliveries", got)
	result("deliveries_expected", want)
	result("deliveries_per_second", fmt.Sprintf("%.0f", float64(got)/span.Seconds()))
	result("server_cpu_seconds", fmt.Sprintf("%.2f", (cpu1-cpu0).Seconds()))
	result("server_closed_sockets", ends)
	return nil
}

// --- /proc -------------------------------------------------------------

// proc returns the kB fields of /proc/PID/status (and Threads).
func (b *bench) proc() map[string]int64 {
	out := map[string]int64{}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.c.pid))
	if err != nil {
		return out
	}
	for l := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

// cpu is the server's user+system CPU time (clock ticks of 10 ms).
func (b *bench) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.c.pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func selfRSS() int64 {
	return (&bench{c: config{pid: os.Getpid()}}).proc()["VmRSS"]
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ",")
}
