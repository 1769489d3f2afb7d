package authn

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestThrottleDelays(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := ThrottleOptions{}.withDefaults()
	th := newBuckets(o, o.FreeFailures, o.MaxClients)
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {5, 0}, {6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second},
		{11, 32 * time.Second}, {12, time.Minute}, {30, time.Minute},
	}
	done := 0
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.failures, " failures"), func(t *testing.T) {
			for ; done < tt.failures; done++ {
				th.fail("alice", t0)
			}
			if got := th.wait("alice", t0); got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("the delay ends", func(t *testing.T) {
		if got := th.wait("alice", t0.Add(time.Minute)); got != 0 {
			t.Errorf("wait after the delay = %v", got)
		}
	})
	t.Run("other accounts are not affected", func(t *testing.T) {
		if got := th.wait("bob", t0); got != 0 {
			t.Errorf("wait = %v", got)
		}
	})
	t.Run("success clears", func(t *testing.T) {
		th.succeed("alice")
		th.fail("alice", t0)
		if got := th.wait("alice", t0); got != 0 {
			t.Errorf("wait = %v", got)
		}
	})
	t.Run("forgotten after quiet", func(t *testing.T) {
		for range 10 {
			th.fail("carol", t0)
		}
		later := t0.Add(DefaultForgetAfter)
		if got := th.wait("carol", later); got != 0 {
			t.Errorf("wait = %v", got)
		}
		th.fail("carol", later)
		if got := th.wait("carol", later); got != 0 {
			t.Errorf("a failure after the quiet period counts from zero: wait = %v", got)
		}
	})
}

// TestThrottleBounded: a spray of distinct usernames, client networks and
// device credentials never holds more than MaxAccounts, MaxClients and
// MaxDevices entries.
func TestThrottleBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(ThrottleOptions{MaxAccounts: 1000, MaxClients: 500, MaxDevices: 300})
	for i := range 50_000 {
		th.untrustedFail(fmt.Sprint("user", i), fmt.Sprint("net", i), t0)
		// the same account from ever new networks (an IPv6 /64 each)
		th.untrustedFail("admin", clientNetwork(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)), t0)
		// ever new device credentials, each locked out for a year
		d := device{id: fmt.Sprint("dev", i), expires: t0.Add(DefaultDeviceLifetime)}
		for range DefaultDeviceFailures {
			th.devices.fail(d, t0)
		}
		if a, c, d := th.accounts.len(), th.clients.len(), th.devices.len(); a > 1000 || c > 500 || d > 300 {
			t.Fatalf("%d accounts, %d clients, %d devices after %d rounds", a, c, d, i+1)
		}
	}
}

// TestThrottleTrustsDevices: failures from elsewhere, however many, never
// slow a trusted device; its own failures lock it out after
// DeviceFailures, and then it stays out until it expires; its successes
// clear its count.
func TestThrottleTrustsDevices(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(ThrottleOptions{})
	for i := range 1000 {
		th.untrustedFail("admin", clientNetwork(fmt.Sprint("203.0.113.", i%256)), t0)
	}
	if th.untrustedWait("admin", clientNetwork("192.0.2.1"), t0) == 0 {
		t.Fatal("the hammered account lets untrusted clients through at once")
	}
	home := device{id: "home", expires: t0.Add(DefaultDeviceLifetime)}
	if !th.devices.trusted(home, t0) {
		t.Fatal("a device without failures is not trusted")
	}
	t.Run("a success clears the count", func(t *testing.T) {
		for range DefaultDeviceFailures - 1 {
			th.devices.fail(home, t0)
		}
		th.devices.succeed(home)
		th.devices.fail(home, t0)
		if !th.devices.trusted(home, t0) {
			t.Error("not trusted after a success and one failure")
		}
		th.devices.succeed(home)
	})
	t.Run("quiet forgets the count", func(t *testing.T) {
		for range DefaultDeviceFailures - 1 {
			th.devices.fail(home, t0)
		}
		th.devices.fail(home, t0.Add(DefaultForgetAfter))
		if !th.devices.trusted(home, t0.Add(DefaultForgetAfter)) {
			t.Error("old failures were not forgotten")
		}
		th.devices.succeed(home)
	})
	t.Run("locked out", func(t *testing.T) {
		for i := range DefaultDeviceFailures {
			if !th.devices.trusted(home, t0) {
				t.Fatalf("locked out after %d failures", i)
			}
			th.devices.fail(home, t0)
		}
		if th.devices.trusted(home, t0) {
			t.Fatal("still trusted after DeviceFailures failures")
		}
		th.devices.succeed(home) // a success (as an untrusted login) does not lift it
		if th.devices.trusted(home, t0.Add(DefaultForgetAfter*100)) {
			t.Error("the lockout was lifted")
		}
		other := device{id: "laptop", expires: home.expires}
		if !th.devices.trusted(other, t0) {
			t.Error("another device of the account is locked out too")
		}
	})
}

// TestThrottleAccountCeiling: untrusted failures slow their own client
// network after FreeFailures, and every untrusted client of the account
// after AccountFreeFailures (a distributed attack); an untrusted success
// clears only its network's count.
func TestThrottleAccountCeiling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(ThrottleOptions{})
	nets := []string{clientNetwork("203.0.113.1"), clientNetwork("2001:db8:1:2::1"), clientNetwork("2001:db8:1:2:ffff::9"),
		clientNetwork("2001:db8:1:3::1"), clientNetwork(""), clientNetwork("not an address")}
	tests := []struct {
		name string
		net  string
		want bool // must wait
	}{
		{"the failing IPv4 address", nets[0], true},
		{"the failing IPv6 /64", nets[2], true},
		{"another IPv6 /64", nets[3], false},
		{"another IPv4 address", clientNetwork("203.0.113.2"), false},
		{"no address (shared with invalid ones)", nets[5], true},
	}
	for _, n := range []string{nets[0], nets[1], nets[4]} {
		for range DefaultFreeFailures + 1 {
			th.untrustedFail("alice", n, t0)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := th.untrustedWait("alice", tt.net, t0) > 0; got != tt.want {
				t.Errorf("waits: %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("the account's ceiling", func(t *testing.T) {
		for i := range DefaultAccountFreeFailures - 3*(DefaultFreeFailures+1) + 1 {
			th.untrustedFail("alice", clientNetwork(fmt.Sprint("198.51.100.", i)), t0)
		}
		if th.untrustedWait("alice", clientNetwork("192.0.2.200"), t0) == 0 {
			t.Error("a fresh network is not slowed after the account's free failures")
		}
		if th.untrustedWait("bob", clientNetwork("192.0.2.200"), t0) != 0 {
			t.Error("another account is slowed")
		}
	})
	t.Run("a success clears its network only", func(t *testing.T) {
		th.untrustedSucceed("alice", nets[0])
		if th.clients.wait(clientKey("alice", nets[0]), t0) != 0 || th.clients.wait(clientKey("alice", nets[1]), t0) == 0 {
			t.Error("network counts after a success")
		}
		if th.accounts.wait("alice", t0) == 0 {
			t.Error("an untrusted success cleared the account's ceiling")
		}
	})
}

func TestLogName(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"ALICE", "alice"}, // the account, in its canonical form
		{"ａｄｍｉｎ", "admin"},
		{"al\x00ice\n", `al\u0000ice\u000a`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"c1\u0085control", `c1\u0085control`},
		{"\u202enimda", `\u202enimda`},
		{"admin\u200b", `admin\u200b`},
		{"ad\u2066min\u2069", `ad\u2066min\u2069`},
		{long, strings.Repeat("é", 32)},
		{strings.Repeat("a", 63) + "é", strings.Repeat("a", 63)},
		{strings.Repeat("a", 60) + "\u202e", strings.Repeat("a", 60)}, // never half an escape
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.12q", tt.in), func(t *testing.T) {
			got := logName(tt.in)
			if got != tt.want || len(got) > MaxUsernameBytes {
				t.Errorf("logName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
