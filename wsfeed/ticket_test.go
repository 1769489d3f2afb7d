package wsfeed

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
)

func alice() *fortapi.Principal {
	return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"items:read"}, SessionID: "s1", TokenID: "t1"}
}

func TestTicketOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    TicketOptions
		ok   bool
	}{
		{"zero", TicketOptions{}, true},
		{"short", TicketOptions{TTL: time.Second}, true},
		{"max", TicketOptions{TTL: MaxTicketTTL}, true},
		{"too long", TicketOptions{TTL: MaxTicketTTL + 1}, false},
		{"negative ttl", TicketOptions{TTL: -1}, false},
		{"negative max", TicketOptions{MaxOutstanding: -1}, false},
		{"negative per subject", TicketOptions{MaxPerSubject: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := NewTickets(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if err == nil && (tk.TTL() <= 0 || tk.TTL() > MaxTicketTTL) {
				t.Fatalf("TTL %v", tk.TTL())
			}
		})
	}
}

func TestTicketRedeem(t *testing.T) {
	t.Parallel()
	clock := newClock()
	tk, err := NewTickets(TicketOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, ttl, err := tk.Issue(alice())
	if err != nil || ttl != MaxTicketTTL || len(v) != ticketLen {
		t.Fatalf("Issue: %q %v %v", v, ttl, err)
	}
	// Forge the secret half of a real ticket: same id, other secret.
	forged := v[:len(v)-2] + map[bool]string{true: "AA", false: "AQ"}[v[len(v)-2:] != "AA"]
	cases := []struct {
		name  string
		value string
	}{
		{"empty", ""},
		{"short", v[:10]},
		{"long", v + "A"},
		{"padded", v[:len(v)-1] + "="},
		{"not base64url", strings.Repeat("+", ticketLen)},
		{"unknown", strings.Repeat("A", ticketLen)},
		{"forged secret", forged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := tk.Redeem(tc.value); !errors.Is(err, ErrInvalidTicket) || p != nil {
				t.Fatalf("Redeem: %v %v", p, err)
			}
		})
	}
	p, err := tk.Redeem(v)
	if err != nil {
		t.Fatalf("the real ticket after forgeries: %v", err)
	}
	if p.Subject != "alice" || p.Scheme != TicketScheme || p.SessionID != "s1" || p.TokenID != "t1" || !p.HasScope("items:read") {
		t.Fatalf("principal %+v", p)
	}
	if _, err := tk.Redeem(v); !errors.Is(err, ErrInvalidTicket) {
		t.Fatalf("second Redeem: %v", err)
	}
	if n := tk.Outstanding(); n != 0 {
		t.Fatalf("%d outstanding", n)
	}
}

func TestTicketIssue(t *testing.T) {
	t.Parallel()
	t.Run("bound to a copy of the principal", func(t *testing.T) {
		tk, _ := NewTickets(TicketOptions{})
		p := alice()
		v, _, _ := tk.Issue(p)
		p.Scopes[0] = "users:admin"
		got, err := tk.Redeem(v)
		if err != nil || got.HasScope("users:admin") {
			t.Fatalf("the ticket follows later changes to the principal: %+v %v", got, err)
		}
	})
	t.Run("never outlives the credentials", func(t *testing.T) {
		clock := newClock()
		tk, _ := NewTickets(TicketOptions{Now: clock.Now})
		p := alice()
		p.ExpiresAt = clock.Now().Add(5 * time.Second)
		v, ttl, err := tk.Issue(p)
		if err != nil || ttl != 5*time.Second {
			t.Fatalf("ttl %v %v", ttl, err)
		}
		clock.Advance(5 * time.Second)
		if _, err := tk.Redeem(v); !errors.Is(err, ErrInvalidTicket) {
			t.Fatalf("redeemed past the credentials' expiry: %v", err)
		}
		p.ExpiresAt = clock.Now()
		if _, _, err := tk.Issue(p); !errors.Is(err, ErrTicketPrincipal) {
			t.Fatalf("issued for expired credentials: %v", err)
		}
	})
	t.Run("not for tickets or nobody", func(t *testing.T) {
		tk, _ := NewTickets(TicketOptions{})
		for _, p := range []*fortapi.Principal{nil, {Scheme: fortapi.BearerScheme}, {Subject: "a", Scheme: TicketScheme}} {
			if _, _, err := tk.Issue(p); !errors.Is(err, ErrTicketPrincipal) {
				t.Errorf("Issue(%+v): %v", p, err)
			}
		}
	})
	t.Run("bounded per subject and in all", func(t *testing.T) {
		clock := newClock()
		tk, _ := NewTickets(TicketOptions{Now: clock.Now, MaxOutstanding: 5, MaxPerSubject: 3})
		for range 3 {
			if _, _, err := tk.Issue(alice()); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := tk.Issue(alice()); !errors.Is(err, ErrSubjectTickets) {
			t.Fatalf("fourth of alice: %v", err)
		}
		bob := alice()
		bob.Subject = "bob"
		for range 2 {
			if _, _, err := tk.Issue(bob); err != nil {
				t.Fatal(err)
			}
		}
		carol := alice()
		carol.Subject = "carol"
		if _, _, err := tk.Issue(carol); !errors.Is(err, ErrTicketsFull) {
			t.Fatalf("past the store's bound: %v", err)
		}
		clock.Advance(MaxTicketTTL) // all expire; the next Issue sweeps
		if _, _, err := tk.Issue(carol); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if n := tk.Outstanding(); n != 1 {
			t.Fatalf("%d outstanding after the sweep", n)
		}
	})
	t.Run("randomness failure", func(t *testing.T) {
		tk, _ := NewTickets(TicketOptions{Rand: bytes.NewReader(nil)})
		if _, _, err := tk.Issue(alice()); err == nil {
			t.Fatal("issued without randomness")
		}
	})
	t.Run("repeating randomness", func(t *testing.T) {
		tk, _ := NewTickets(TicketOptions{Rand: bytes.NewReader(make([]byte, 1000))})
		if _, _, err := tk.Issue(alice()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tk.Issue(alice()); err == nil {
			t.Fatal("issued the same ticket twice")
		}
	})
}

func TestTicketAuthenticate(t *testing.T) {
	t.Parallel()
	tk, _ := NewTickets(TicketOptions{})
	cases := []struct {
		name   string
		target string
		hdr    http.Header
		want   string // "ok", "none" or "invalid"
	}{
		{"nothing", "/", nil, "none"},
		{"other subprotocols", "/", http.Header{"Sec-Websocket-Protocol": {"chat, v2"}}, "none"},
		{"authorization wins", "/?ticket=$", http.Header{"Authorization": {"Bearer x"}}, "none"},
		{"subprotocol", "/", http.Header{"Sec-Websocket-Protocol": {"ticket, $"}}, "ok"},
		{"subprotocol split over fields", "/", http.Header{"Sec-Websocket-Protocol": {"ticket", "$"}}, "ok"},
		{"subprotocol with others", "/", http.Header{"Sec-Websocket-Protocol": {"chat, ticket, $, v2"}}, "ok"},
		{"query", "/?ticket=$", nil, "ok"},
		{"marker without value", "/", http.Header{"Sec-Websocket-Protocol": {"chat, ticket"}}, "invalid"},
		{"marker twice", "/", http.Header{"Sec-Websocket-Protocol": {"ticket, ticket, $"}}, "invalid"},
		{"two markers", "/", http.Header{"Sec-Websocket-Protocol": {"ticket, $, ticket, $"}}, "invalid"},
		{"both ways", "/?ticket=$", http.Header{"Sec-Websocket-Protocol": {"ticket, $"}}, "invalid"},
		{"repeated parameter", "/?ticket=$&ticket=$", nil, "invalid"},
		{"empty parameter", "/?ticket=", nil, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, _, err := tk.Issue(alice())
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, strings.ReplaceAll(tc.target, "$", v), nil)
			for k, vs := range tc.hdr {
				for _, s := range vs {
					r.Header.Add(k, strings.ReplaceAll(s, "$", v))
				}
			}
			p, err := tk.Authenticate(r)
			switch tc.want {
			case "ok":
				if err != nil || p.Subject != "alice" {
					t.Fatalf("%v %v", p, err)
				}
			case "none":
				if !errors.Is(err, fortapi.ErrNoCredentials) {
					t.Fatalf("%v %v", p, err)
				}
			default:
				if err == nil || errors.Is(err, fortapi.ErrNoCredentials) {
					t.Fatalf("%v %v", p, err)
				}
			}
			if tc.want != "ok" {
				if _, err := tk.Redeem(v); err != nil && tc.want == "none" {
					t.Errorf("the ticket was spent although not presented: %v", err)
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"origins", Options{Origins: []string{"https://a.example", "HTTPS://B.example:443"}}, true},
		{"bad origin", Options{Origins: []string{"https://a.example/path"}}, false},
		{"null origin", Options{Origins: []string{"null"}}, false},
		{"wildcard origin", Options{Origins: []string{"https://*.example"}}, false},
		{"negative read limit", Options{ReadLimit: -1}, false},
		{"negative queue", Options{SendQueue: -1}, false},
		{"negative cap", Options{MaxConns: -1}, false},
		{"slow check", Options{CheckInterval: 2 * time.Second}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if f != nil {
				if f.o.ReadLimit != DefaultReadLimit || f.o.SendQueue != DefaultSendQueue || f.o.MaxConnsPerSubject != DefaultMaxConnsPerSubject ||
					f.o.MaxConns != DefaultMaxConns || f.o.WriteTimeout != DefaultWriteTimeout || f.o.PingInterval != DefaultPingInterval ||
					f.o.IdleTimeout != DefaultIdleTimeout || f.o.CheckInterval != DefaultCheckInterval {
					t.Errorf("defaults not applied: %+v", f.o)
				}
				_ = f.Close()
			}
		})
	}
}
