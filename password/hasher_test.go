package password

import (
	"context"
	"errors"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds; it fails the test after a generous
// deadline instead of hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is a test hook that holds every computation at its start until
// opened, and reports each start on entered. It opens when the test ends,
// so a failing test does not leave callers blocked.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 64), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) hook(start bool) {
	if start {
		g.entered <- struct{}{}
		select {
		case <-g.release:
		case <-time.After(30 * time.Second): // a broken limiter fails, not hangs
		}
	}
}

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no computation started")
	}
}

func assertBusy(t *testing.T, err error, reason string) *BusyError {
	t.Helper()
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	var be *BusyError
	if !errors.As(err, &be) {
		t.Fatalf("err = %T, want *BusyError", err)
	}
	if be.Reason != reason {
		t.Fatalf("Reason = %q, want %q", be.Reason, reason)
	}
	if be.RetryAfter < time.Second || be.RetryAfter > time.Minute || be.RetryAfter%time.Second != 0 {
		t.Fatalf("RetryAfter = %v, want whole seconds in [1s, 60s]", be.RetryAfter)
	}
	return be
}

// With one slot and a queue of one, the third concurrent caller is refused
// at once: its queue timeout is an hour and no slot frees while it runs, so
// any return at all proves it did not wait.
func TestBusyQueueFull(t *testing.T) {
	h := newTestHasher(t, HasherOptions{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: time.Hour})
	g := newGate(t)
	h.testHook = g.hook
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { _, err := h.Hash(ctx, "first caller pw"); errs <- err })
	g.waitEntered(t)
	wg.Go(func() { _, err := h.Verify(ctx, "password1", password1Bcrypt4); errs <- err })
	waitFor(t, "second caller to queue", func() bool { return h.waiting.Load() == 1 })

	third := make(chan error, 1)
	go func() { _, err := h.Verify(ctx, "password1", password1Bcrypt4); third <- err }()
	select {
	case err := <-third:
		assertBusy(t, err, "queue full")
	case <-time.After(30 * time.Second):
		t.Fatal("third caller waited instead of being refused")
	}
	ok, err := h.Verify(ctx, "password1", password1Bcrypt4) // a fourth, same answer
	if ok {
		t.Fatal("busy Verify reported a match")
	}
	assertBusy(t, err, "queue full")
	if err := h.VerifyDummy(ctx, "x"); err == nil {
		t.Fatal("busy VerifyDummy returned nil")
	}
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Fatal("busy Hash returned nil")
	}

	g.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("admitted caller failed: %v", err)
		}
	}
}

func TestBusyQueueTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	h := newTestHasher(t, HasherOptions{MaxConcurrent: 1, MaxQueue: 4, QueueTimeout: timeout})
	g := newGate(t)
	h.testHook = g.hook
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := h.Verify(ctx, "password1", password1Bcrypt4); err != nil {
			t.Errorf("first caller: %v", err)
		}
	})
	g.waitEntered(t)

	start := time.Now()
	ok, err := h.Verify(ctx, "password1", password1Bcrypt4)
	elapsed := time.Since(start)
	if ok {
		t.Fatal("timed-out Verify reported a match")
	}
	assertBusy(t, err, "queue timeout")
	if elapsed < timeout {
		t.Fatalf("gave up after %v, before the queue timeout %v", elapsed, timeout)
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("waiting = %d after the timeout, want 0", n)
	}
	g.open()
	wg.Wait()
}

func TestBusyContext(t *testing.T) {
	h := newTestHasher(t, HasherOptions{MaxConcurrent: 1, QueueTimeout: time.Hour})
	t.Run("already canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.Hash(ctx, "some password")
		assertBusy(t, err, "context done")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want it to match context.Canceled", err)
		}
	})
	t.Run("canceled while queued", func(t *testing.T) {
		h := newTestHasher(t, HasherOptions{MaxConcurrent: 1, QueueTimeout: time.Hour})
		g := newGate(t)
		h.testHook = g.hook
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := h.VerifyDummy(context.Background(), "first"); err != nil {
				t.Errorf("first caller: %v", err)
			}
		})
		g.waitEntered(t)
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- h.VerifyDummy(ctx, "second") }()
		waitFor(t, "second caller to queue", func() bool { return h.waiting.Load() == 1 })
		cancel()
		err := <-res
		assertBusy(t, err, "context done")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want it to match context.Canceled", err)
		}
		g.open()
		wg.Wait()
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := h.Verify(ctx, "pw", password1Bcrypt4)
		assertBusy(t, err, "context done")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want it to match context.DeadlineExceeded", err)
		}
	})
}

func TestNoQueue(t *testing.T) {
	h := newTestHasher(t, HasherOptions{MaxConcurrent: 1, MaxQueue: -1, QueueTimeout: time.Hour})
	g := newGate(t)
	h.testHook = g.hook
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.VerifyDummy(context.Background(), "first") })
	g.waitEntered(t)
	assertBusy(t, h.VerifyDummy(context.Background(), "second"), "queue full")
	g.open()
	wg.Wait()
}

// concurrencyMeter is a test hook that records the peak number of
// computations running at once.
type concurrencyMeter struct {
	active, peak, total atomic.Int64
}

func (m *concurrencyMeter) hook(start bool) {
	if !start {
		m.active.Add(-1)
		return
	}
	m.total.Add(1)
	n := m.active.Add(1)
	for {
		p := m.peak.Load()
		if n <= p || m.peak.CompareAndSwap(p, n) {
			break
		}
	}
	runtime.Gosched() // give others a chance to (wrongly) enter
}

// Under 32 goroutines the number of running computations never exceeds
// MaxConcurrent.
func TestPeakConcurrency(t *testing.T) {
	for _, maxConc := range []int{1, 2, 3} {
		t.Run("MaxConcurrent="+string(rune('0'+maxConc)), func(t *testing.T) {
			h := newTestHasher(t, HasherOptions{MaxConcurrent: maxConc, MaxQueue: 64, QueueTimeout: 10 * time.Minute})
			var m concurrencyMeter
			h.testHook = m.hook
			ctx := context.Background()
			const goroutines, rounds = 32, 8
			var wg sync.WaitGroup
			for i := range goroutines {
				wg.Go(func() {
					for r := range rounds {
						// Real calls through every public entry point, and
						// many cheap computations through the same slots
						// (h.run is what Hash, Verify and VerifyDummy use;
						// argon2id and bcrypt are slow under -race).
						var err error
						ok := true
						switch {
						case i == 0 && r == 0:
							_, err = h.Hash(ctx, "peak concurrency")
						case i == 1 && r == 0:
							err = h.VerifyDummy(ctx, "nobody")
						case i%8 == 2 && r == 0:
							ok, err = h.Verify(ctx, "password1", password1Bcrypt4)
						default:
							err = h.run(ctx, runtime.Gosched)
						}
						if err != nil || !ok {
							t.Errorf("goroutine %d round %d: %v, %v", i, r, ok, err)
						}
					}
				})
			}
			wg.Wait()
			if got := m.total.Load(); got != goroutines*rounds {
				t.Fatalf("%d computations ran, want %d", got, goroutines*rounds)
			}
			if p := m.peak.Load(); p > int64(maxConc) {
				t.Fatalf("peak concurrency %d exceeds MaxConcurrent %d", p, maxConc)
			}
			t.Logf("peak %d of %d", m.peak.Load(), maxConc)
		})
	}
}

// The meter above can see concurrency: with MaxConcurrent=2, two
// computations are inside the slot at the same moment (a barrier proves it),
// so a broken bound would be caught.
func TestTwoSlotsRunTogether(t *testing.T) {
	h := newTestHasher(t, HasherOptions{MaxConcurrent: 2, QueueTimeout: time.Hour})
	g := newGate(t)
	h.testHook = g.hook
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = h.VerifyDummy(context.Background(), "x") })
	}
	g.waitEntered(t)
	g.waitEntered(t)
	waitFor(t, "third caller to queue", func() bool { return h.waiting.Load() == 1 })
	select {
	case <-g.entered:
		t.Fatal("a third computation started while two held the slots")
	case <-time.After(50 * time.Millisecond):
	}
	g.open()
	wg.Wait()
	if len(g.entered) != 1 {
		t.Fatalf("%d more computations after release, want 1", len(g.entered))
	}
}

// hookCounter counts computations.
func hookCounter(h *Hasher) *atomic.Int64 {
	var n atomic.Int64
	h.testHook = func(start bool) {
		if start {
			n.Add(1)
		}
	}
	return &n
}

func TestHashVerify(t *testing.T) {
	h := newTestHasher(t, HasherOptions{})
	ctx := context.Background()
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	tests := []struct {
		name, hashed, verified string
		want                   bool
	}{
		{"same", "correct horse battery staple", "correct horse battery staple", true},
		{"other", "correct horse battery staple", "correct horse battery stapler", false},
		{"case matters", "correct horse battery staple", "Correct horse battery staple", false},
		{"empty vs space", "", " ", false},
		{"fullwidth hashed, ASCII verified", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11", "password1", true},
		{"ASCII hashed, fullwidth verified", "password1", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11", true},
		{"ligature", "\ufb01nancial", "financial", true},
		{"composed vs decomposed", "caf\u00e9 au lait", "cafe\u0301 au lait", true},
		{"1024 bytes", strings.Repeat("x", 1024), strings.Repeat("x", 1024), true},
		{"non-UTF-8 verify", "password1", "password1\xff", false},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := h.Hash(ctx, tc.hashed)
			if err != nil {
				t.Fatal(err)
			}
			if !phc.MatchString(enc) {
				t.Fatalf("Hash = %q, not a default PHC string", enc)
			}
			if seen[enc] {
				t.Fatal("two hashes are equal: salt is not random")
			}
			seen[enc] = true
			ok, err := h.Verify(ctx, tc.verified, enc)
			if err != nil || ok != tc.want {
				t.Fatalf("Verify = %v, %v; want %v, nil", ok, err, tc.want)
			}
			if h.NeedsRehash(enc) {
				t.Fatal("NeedsRehash(own fresh hash) = true")
			}
		})
	}
}

func TestHashRefuses(t *testing.T) {
	h := newTestHasher(t, HasherOptions{})
	n := hookCounter(h)
	tests := []struct {
		name, password string
		want           error
	}{
		{"not UTF-8", "abc\xffdef", ErrPasswordNotUTF8},
		{"1025 bytes", strings.Repeat("a", 1025), ErrPasswordTooLong},
		// U+FDFA is 3 bytes and expands to 33 under NFKC.
		{"NFKC expansion past 1024", strings.Repeat("\ufdfa", 100), ErrPasswordTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := h.Hash(context.Background(), tc.password)
			if !errors.Is(err, tc.want) || enc != "" {
				t.Fatalf("Hash = %q, %v; want %v", enc, err, tc.want)
			}
		})
	}
	if n.Load() != 0 {
		t.Fatalf("%d computations for refused passwords", n.Load())
	}
}

// Overlong passwords answer "no match" without any hashing (DoS).
func TestVerifyOverlongDoesNotHash(t *testing.T) {
	h := newTestHasher(t, HasherOptions{})
	n := hookCounter(h)
	ctx := context.Background()
	for _, tc := range []struct{ name, password, encoded string }{
		{"argon2id 1025 bytes", strings.Repeat("a", 1025), argon2idVectors[1].encoded},
		{"argon2id 1 MB", strings.Repeat("a", 1<<20), argon2idVectors[1].encoded},
		{"argon2id NFKC expansion", strings.Repeat("\ufdfa", 100), argon2idVectors[1].encoded},
		{"bcrypt 73 bytes", strings.Repeat("A", 73), a72Bcrypt4},
		{"bcrypt 1025 bytes", strings.Repeat("A", 1025), a72Bcrypt4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tc.password, tc.encoded)
			if ok || err != nil {
				t.Fatalf("Verify = %v, %v; want false, nil", ok, err)
			}
			if err := h.VerifyDummy(ctx, tc.password); err != nil {
				t.Fatalf("VerifyDummy: %v", err)
			}
		})
	}
	// Only the 73-byte row is within MaxPasswordBytes, so only its
	// VerifyDummy (argon2id, no 72-byte limit) computes.
	if got := n.Load(); got != 1 {
		t.Fatalf("%d computations, want 1 (VerifyDummy of the 73-byte row)", got)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newTestHasher(t, HasherOptions{Params: Params{Time: 3, KeyLen: 48}})
	n := hookCounter(h)
	d, p := h.dummy, h.Params()
	if d.memory != p.Memory || d.time != p.Time || d.threads != p.Threads ||
		uint32(len(d.salt)) != p.SaltLen || uint32(len(d.key)) != p.KeyLen {
		t.Fatalf("dummy hash %+v does not use the hasher's params %+v", d, p)
	}
	if err := h.VerifyDummy(context.Background(), "whatever"); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Fatalf("VerifyDummy ran %d computations, want 1", n.Load())
	}
	// Two hashers have different dummies (random secret and salt).
	h2 := newTestHasher(t, HasherOptions{})
	if encodeArgon2id(h2.dummy) == encodeArgon2id(newTestHasher(t, HasherOptions{}).dummy) {
		t.Fatal("dummy hashes repeat")
	}
}

type failingReader struct{ after int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.after <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.after)
	for i := range n {
		p[i] = 7
	}
	r.after -= n
	return n, nil
}

func TestNewHasherOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    HasherOptions
		wantErr string
	}{
		{"zero", HasherOptions{}, ""},
		{"t=3", HasherOptions{Params: Params{Time: 3}}, ""},
		{"p=2", HasherOptions{Params: Params{Threads: 2}}, ""},
		{"memory below 19456", HasherOptions{Params: Params{Memory: 19455}}, "below the minimum"},
		// t=1 is below the floor even with OWASP's matching 46 MiB.
		{"time 1", HasherOptions{Params: Params{Memory: 47104, Time: 1}}, "below the minimum"},
		{"salt 8", HasherOptions{Params: Params{SaltLen: 8}}, "salt length"},
		{"key 16", HasherOptions{Params: Params{KeyLen: 16}}, "key length"},
		{"memory above cap", HasherOptions{Params: Params{Memory: MaxMemoryKiB + 1}}, "above the maximum"},
		{"time above cap", HasherOptions{Params: Params{Time: MaxTime + 1}}, "above the maximum"},
		{"threads above cap", HasherOptions{Params: Params{Threads: MaxThreads + 1}}, "above the maximum"},
		{"salt above cap", HasherOptions{Params: Params{SaltLen: MaxSaltLen + 1}}, "salt length"},
		{"negative MaxConcurrent", HasherOptions{MaxConcurrent: -1}, "negative"},
		{"negative QueueTimeout", HasherOptions{QueueTimeout: -time.Second}, "negative"},
		{"broken Rand", HasherOptions{Rand: &failingReader{}}, "random"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHasher(tc.opts)
			if tc.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHasher = %v, %v", h, err)
				}
				return
			}
			if err == nil || h != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewHasher = %v, %v; want error containing %q", h, err, tc.wantErr)
			}
		})
	}
}

// InsecureTestParams: cheap hashes that verify, that a default Hasher
// re-hashes, and only in a test binary and without Params.
func TestInsecureTestParams(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, HasherOptions{InsecureTestParams: true})
	if got, want := h.Params(), (Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}); got != want || InsecureTestParams() != want {
		t.Fatalf("Params = %+v, InsecureTestParams() = %+v; want %+v", got, InsecureTestParams(), want)
	}
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Fatalf("Hash = %q, %v", enc, err)
	}
	def := newTestHasher(t, HasherOptions{})
	for _, v := range []*Hasher{h, def} {
		if ok, err := v.Verify(ctx, "correct horse battery staple", enc); !ok || err != nil {
			t.Errorf("Verify = %v, %v", ok, err)
		}
		if ok, err := v.Verify(ctx, "correct horse battery stapler", enc); ok || err != nil {
			t.Errorf("Verify(wrong) = %v, %v", ok, err)
		}
	}
	if !def.NeedsRehash(enc) || h.NeedsRehash(enc) {
		t.Errorf("NeedsRehash: default hasher %v (want true), test hasher %v (want false)", def.NeedsRehash(enc), h.NeedsRehash(enc))
	}
	if h, err := newHasher(HasherOptions{InsecureTestParams: true}, false); err == nil || h != nil || !strings.Contains(err.Error(), "outside a test binary") {
		t.Errorf("outside a test binary: %v, %v", h, err)
	}
	if h, err := NewHasher(HasherOptions{InsecureTestParams: true, Params: Params{Time: 3}}); err == nil || h != nil || !strings.Contains(err.Error(), "with Params") {
		t.Errorf("with Params: %v, %v", h, err)
	}
}

// The bounds themselves are valid hasher parameters (without building a
// 256 MiB hasher).
func TestParamsAtBounds(t *testing.T) {
	p := Params{Memory: MaxMemoryKiB, Time: MaxTime, Threads: MaxThreads, SaltLen: MaxSaltLen, KeyLen: MaxKeyLen}
	if err := p.withDefaults().validate(); err != nil {
		t.Fatalf("validate(bounds) = %v", err)
	}
	if err := (Params{}).withDefaults().validate(); err != nil {
		t.Fatalf("validate(defaults) = %v", err)
	}
}

func TestHasherDefaults(t *testing.T) {
	h := newTestHasher(t, HasherOptions{})
	if got, want := h.Params(), DefaultParams(); got != want {
		t.Errorf("Params = %+v, want %+v", got, want)
	}
	if want := (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}); DefaultParams() != want {
		t.Errorf("DefaultParams = %+v, want %+v", DefaultParams(), want)
	}
	if got := cap(h.slots); got != runtime.GOMAXPROCS(0) {
		t.Errorf("MaxConcurrent = %d, want GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
	if h.maxQueue != 64 || h.queueTimeout != 2*time.Second {
		t.Errorf("MaxQueue, QueueTimeout = %d, %v; want 64, 2s", h.maxQueue, h.queueTimeout)
	}
}

func TestHashRandFailure(t *testing.T) {
	// Enough bytes for NewHasher's dummy (32 + 16), none for a salt.
	h := newTestHasher(t, HasherOptions{Rand: &failingReader{after: 48}})
	if _, err := h.Hash(context.Background(), "long enough pw"); err == nil || !strings.Contains(err.Error(), "salt") {
		t.Fatalf("Hash with a failing Rand: %v", err)
	}
}

func TestBusyErrorMessage(t *testing.T) {
	e := &BusyError{RetryAfter: 2 * time.Second, Reason: "queue full"}
	if got, want := e.Error(), "password: hasher busy (queue full), retry after 2s"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if errors.Unwrap(e) != nil {
		t.Fatal("Unwrap without a cause is not nil")
	}
}
