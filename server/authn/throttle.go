package authn

import (
	"net/netip"
	"sync"
	"time"

	"github.com/fortapi/fortapi/clientip"
)

// Throttle settings; see ThrottleOptions.
const (
	DefaultFreeFailures        = 5
	DefaultAccountFreeFailures = 20
	DefaultDeviceFailures      = 5
	DefaultFirstDelay          = time.Second
	DefaultMaxDelay            = time.Minute
	DefaultForgetAfter         = 15 * time.Minute
	DefaultMaxAccounts         = 100_000
	DefaultMaxClients          = 100_000
	DefaultMaxDevices          = 100_000
)

// ThrottleOptions configure the login throttle, which follows OWASP's
// device-cookie scheme ("Slow Down Online Guessing Attacks with Device
// Cookies").
//
// A login that presents a valid device credential for its username (see
// device.go: one is handed out at every successful login) is trusted: it
// is throttled only by the failures made with that same credential. After
// DeviceFailures of them (none forgotten, see ForgetAfter) the credential
// is put on the device lockout list and is no longer trusted until it
// expires; a success with it clears its count. Failures made elsewhere
// never slow a trusted login, so an attacker hammering an account cannot
// lock its owner out of a device the owner has used before.
//
// Every other login is untrusted and throttled twice, with the same
// doubling delay: per (username, client network) after FreeFailures
// failures, and per username for all untrusted clients together after
// AccountFreeFailures failures (the ceiling that still slows a
// distributed attack). After the free failures each further failure
// makes the next attempt wait a delay that doubles from FirstDelay up to
// MaxDelay: guessing slows to one try per MaxDelay, and nobody is locked
// out for longer than MaxDelay after the failures stop. A client network
// is the client's IPv4 address or its IPv6 /64 (clientip.Key). An
// untrusted success clears its (username, network) count; the username's
// count, like every count, is forgotten ForgetAfter after its last
// failure. Usernames are throttled whether or not they exist, so the
// throttle says nothing about which accounts exist.
//
// Memory is bounded: at most MaxAccounts usernames, MaxClients (username,
// network) pairs and MaxDevices device credentials are tracked. When a map
// is full, forgotten entries are dropped first, then an arbitrary tenth
// (for the device list: entries that are not locked out first).
type ThrottleOptions struct {
	FreeFailures        int           // per (username, client network); default 5
	AccountFreeFailures int           // per username, untrusted clients together; default 20
	DeviceFailures      int           // per device credential, then it is locked out; default 5
	FirstDelay          time.Duration // default 1s
	MaxDelay            time.Duration // default 1m
	ForgetAfter         time.Duration // default 15m
	MaxAccounts         int           // default 100,000
	MaxClients          int           // default 100,000
	MaxDevices          int           // default 100,000
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.FreeFailures, DefaultFreeFailures)
	def(&o.AccountFreeFailures, DefaultAccountFreeFailures)
	def(&o.DeviceFailures, DefaultDeviceFailures)
	defD(&o.FirstDelay, DefaultFirstDelay)
	defD(&o.MaxDelay, DefaultMaxDelay)
	defD(&o.ForgetAfter, DefaultForgetAfter)
	def(&o.MaxAccounts, DefaultMaxAccounts)
	def(&o.MaxClients, DefaultMaxClients)
	def(&o.MaxDevices, DefaultMaxDevices)
	return o
}

// throttle is the in-memory login throttle. It is per process: with
// several instances each keeps its own (Options.LoginFailures, on Redis,
// is the bound across instances for untrusted logins).
type throttle struct {
	clients  *buckets // untrusted failures per account and client network
	accounts *buckets // untrusted failures per account
	devices  *deviceList
}

func newThrottle(o ThrottleOptions) *throttle {
	o = o.withDefaults()
	return &throttle{
		clients:  newBuckets(o, o.FreeFailures, o.MaxClients),
		accounts: newBuckets(o, o.AccountFreeFailures, o.MaxAccounts),
		devices:  newDeviceList(o),
	}
}

// clientNetwork is the throttle's name for a client address: the IPv4
// address or the IPv6 /64 ("unknown" for an address that does not parse).
func clientNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		a = netip.Addr{}
	}
	return clientip.Key(a)
}

// clientKey is the key of an account's bucket for one client network.
func clientKey(account, network string) string { return account + "\x00" + network }

// untrustedWait returns how long an untrusted attempt on the account from
// the network must wait (0: go ahead).
func (t *throttle) untrustedWait(account, network string, now time.Time) time.Duration {
	return max(t.clients.wait(clientKey(account, network), now), t.accounts.wait(account, now))
}

// untrustedFail records an untrusted failure.
func (t *throttle) untrustedFail(account, network string, now time.Time) {
	t.clients.fail(clientKey(account, network), now)
	t.accounts.fail(account, now)
}

// untrustedSucceed clears the network's count for the account; the
// account's count, shared with every untrusted client, is left to be
// forgotten.
func (t *throttle) untrustedSucceed(account, network string) {
	t.clients.succeed(clientKey(account, network))
}

// buckets count failures per key with doubling delays.
type buckets struct {
	opts ThrottleOptions
	free int // failures before the first delay
	max  int // entries
	mu   sync.Mutex
	m    map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // no attempt before this
}

func newBuckets(o ThrottleOptions, free, maxEntries int) *buckets {
	return &buckets{opts: o, free: free, max: maxEntries, m: make(map[string]*throttleEntry)}
}

// wait returns how long the key must wait before its next attempt
// (0: go ahead).
func (b *buckets) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok {
		return 0
	}
	if now.Sub(e.last) >= b.opts.ForgetAfter {
		delete(b.m, key)
		return 0
	}
	if d := e.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// fail records a failed attempt.
func (b *buckets) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok || now.Sub(e.last) >= b.opts.ForgetAfter {
		if !ok && len(b.m) >= b.max {
			b.evictLocked(now)
		}
		e = &throttleEntry{}
		b.m[key] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - b.free; over > 0 {
		d := b.opts.FirstDelay
		for i := 1; i < over && d < b.opts.MaxDelay; i++ {
			d *= 2
		}
		e.until = now.Add(min(d, b.opts.MaxDelay))
	}
}

// succeed clears the key's failures.
func (b *buckets) succeed(key string) {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}

// evictLocked makes room: forgotten entries first, then, if none was
// forgotten, an arbitrary tenth of the map (Go's map order is randomized,
// so an attacker cannot choose which entries are dropped).
func (b *buckets) evictLocked(now time.Time) {
	for k, e := range b.m {
		if now.Sub(e.last) >= b.opts.ForgetAfter {
			delete(b.m, k)
		}
	}
	if len(b.m) < b.max {
		return
	}
	drop := max(1, len(b.m)/10)
	for k := range b.m {
		if drop == 0 {
			break
		}
		delete(b.m, k)
		drop--
	}
}

// len returns the number of tracked keys (tests).
func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// deviceList counts failures per device credential and holds the
// credentials locked out (OWASP's lockout list).
type deviceList struct {
	opts ThrottleOptions
	mu   sync.Mutex
	m    map[string]*deviceEntry // by device.id
}

type deviceEntry struct {
	failures int
	last     time.Time // last failure
	locked   bool
	expires  time.Time // the credential's end: a lockout is kept until then
}

func newDeviceList(o ThrottleOptions) *deviceList {
	return &deviceList{opts: o, m: make(map[string]*deviceEntry)}
}

// trusted reports whether the device is not locked out.
func (l *deviceList) trusted(d device, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[d.id]
	return !ok || !e.locked || !now.Before(e.expires)
}

// fail records a failure with the device; the DeviceFailures-th locks it
// out.
func (l *deviceList) fail(d device, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[d.id]
	if !ok {
		if len(l.m) >= l.opts.MaxDevices {
			l.evictLocked(now)
		}
		e = &deviceEntry{expires: d.expires}
		l.m[d.id] = e
	}
	if e.locked {
		return
	}
	if now.Sub(e.last) >= l.opts.ForgetAfter {
		e.failures = 0
	}
	e.failures++
	e.last = now
	if e.failures >= l.opts.DeviceFailures {
		e.locked = true
	}
}

// succeed clears the device's failures (never its lockout).
func (l *deviceList) succeed(d device) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[d.id]; ok && !e.locked {
		delete(l.m, d.id)
	}
}

// evictLocked makes room: expired lockouts and forgotten counts first,
// then an arbitrary tenth of the entries that are not locked out, and
// only when every entry is a live lockout, an arbitrary tenth of those.
func (l *deviceList) evictLocked(now time.Time) {
	for k, e := range l.m {
		if !now.Before(e.expires) || (!e.locked && now.Sub(e.last) >= l.opts.ForgetAfter) {
			delete(l.m, k)
		}
	}
	for _, lockedToo := range []bool{false, true} {
		if len(l.m) < l.opts.MaxDevices {
			return
		}
		drop := max(1, len(l.m)/10)
		for k, e := range l.m {
			if drop == 0 {
				break
			}
			if e.locked && !lockedToo {
				continue
			}
			delete(l.m, k)
			drop--
		}
	}
}

// len returns the number of tracked devices (tests).
func (l *deviceList) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
