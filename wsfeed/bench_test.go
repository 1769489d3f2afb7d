package wsfeed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// benchConns is the number of idle sockets of the memory benchmark
// (WSFEED_BENCH_CONNS, default 2,000; the open-files limit here is about
// 20,000 per process).
func benchConns() int {
	if n, err := strconv.Atoi(os.Getenv("WSFEED_BENCH_CONNS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// TestHelperClients is not a test: BenchmarkIdleConnMemory runs the test
// binary with WSFEED_HELPER_URL set to open idle sockets in a process of
// their own, so that only the server's memory is measured. It prints
// "ready" once they are open and holds them until its stdin closes.
func TestHelperClients(t *testing.T) {
	t.Parallel()
	url := os.Getenv("WSFEED_HELPER_URL")
	if url == "" {
		t.Skip("helper process of BenchmarkIdleConnMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("WSFEED_HELPER_CONNS"))
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer alice"}}})
		cancel()
		if err != nil {
			fmt.Printf("dial %d: %v\n", i, err)
			os.Exit(1)
		}
		c.CloseRead(context.Background()) // answer pings like a browser
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.CloseNow()
	}
	os.Exit(0)
}

// BenchmarkIdleConnMemory measures the server's memory per idle,
// authenticated feed socket (heap in use plus goroutine stacks, after a
// GC), with the clients in another process. "returns": the upgrade handler
// returns and a reader goroutine keeps the socket (the feed's choice);
// "holds": the handler goroutine itself stays as the reader. Run with
// -benchtime=1x: every iteration opens N sockets.
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, hold := range []bool{false, true} {
		name := "returns"
		if hold {
			name = "holds"
		}
		b.Run(name, func(b *testing.B) {
			n := benchConns()
			e := newEnv(b, func(o *Options) {
				o.MaxConns, o.MaxConnsPerSubject = n+1, n+1
				o.holdHandler = hold
			})
			var perConn, stack, goroutines float64
			for b.Loop() {
				runtime.GC()
				var m0 runtime.MemStats
				runtime.ReadMemStats(&m0)
				g0 := runtime.NumGoroutine()

				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperClients$")
				cmd.Env = append(os.Environ(), "WSFEED_HELPER_URL="+e.url, "WSFEED_HELPER_CONNS="+strconv.Itoa(n))
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				if strings.TrimSpace(line) != "ready" {
					b.Fatalf("helper: %q", line)
				}
				waitFor(b, 30*time.Second, "every socket", func() bool { return e.feed.Conns() == n })
				time.Sleep(200 * time.Millisecond) // let the upgrade goroutines finish
				runtime.GC()
				var m1 runtime.MemStats
				runtime.ReadMemStats(&m1)
				perConn = float64(int64(m1.HeapInuse+m1.StackInuse)-int64(m0.HeapInuse+m0.StackInuse)) / float64(n)
				stack = float64(int64(m1.StackInuse)-int64(m0.StackInuse)) / float64(n)
				goroutines = float64(runtime.NumGoroutine()-g0) / float64(n)

				_ = stdin.Close()
				_ = cmd.Wait()
				waitFor(b, 30*time.Second, "the sockets to close", func() bool { return e.feed.Conns() == 0 })
			}
			b.ReportMetric(perConn, "bytes/conn")
			b.ReportMetric(stack, "stack-bytes/conn")
			b.ReportMetric(goroutines, "goroutines/conn")
			b.ReportMetric(float64(n), "conns")
		})
	}
}

// BenchmarkFanout publishes events of about 200 bytes to 1,000 sockets
// whose owner may see them all, read by clients in the same process (the
// two share the machine's cores). events/s counts published events,
// deliveries/s messages received by the clients. The publisher keeps at
// most 32 events ahead of the slowest reader, under the default send
// queue (64).
func BenchmarkFanout(b *testing.B) {
	const subs, window = 1000, 32
	e := newEnv(b, func(o *Options) { o.MaxConns, o.MaxConnsPerSubject = subs+1, subs+1 })
	var received atomic.Int64
	counts := make([]atomic.Int64, subs)
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, subs)
	for i := range subs {
		conns[i] = e.mustDial(b, "", nil, "Authorization", "Bearer alice")
		wg.Add(1)
		go func(c *websocket.Conn, n *atomic.Int64) {
			defer wg.Done()
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				n.Add(1)
				received.Add(1)
			}
		}(conns[i], &counts[i])
	}
	waitFor(b, 10*time.Second, "every socket", func() bool { return e.feed.Conns() == subs })
	slowest := func() int64 {
		m := counts[0].Load()
		for i := range counts {
			m = min(m, counts[i].Load())
		}
		return m
	}
	msg := map[string]any{"type": "item.updated", "id": "0192f0c4-8a1e-7b6c-9d2f-3e4a5b6c7d8e",
		"item": map[string]any{"name": "A widget", "description": "<p>Something <em>useful</em></p>", "price": 12.5, "tax": 1.25, "owner": "alice"}}
	b.ResetTimer()
	start := time.Now()
	base := received.Load()
	for i := range b.N {
		if i%16 == 0 {
			for int64(i)-slowest() > window {
				time.Sleep(50 * time.Microsecond) // leave the cores to the sockets
			}
		}
		if err := e.feed.Publish(Event{Owner: "alice", Message: msg}); err != nil {
			b.Fatal(err)
		}
	}
	want := base + int64(b.N)*subs
	for received.Load() < want && e.feed.Conns() == subs {
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	if got := e.feed.Conns(); got != subs {
		b.Fatalf("%d sockets dropped", subs-got)
	}
	b.ReportMetric(float64(b.N)/elapsed, "events/s")
	b.ReportMetric(float64(received.Load()-base)/elapsed, "deliveries/s")
	for _, c := range conns {
		_ = c.CloseNow()
	}
	wg.Wait()
}
