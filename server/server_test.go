package server_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fortapi/fortapi/server"
)

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 123e6, time.UTC)
	id, err := server.NewID(now, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	if err != nil {
		t.Fatal(err)
	}
	// 0x01a2212b107b = 1795852800123 ms since the epoch, version 7, variant 10, the rest from the reader.
	if want := "01a2212b-107b-7fff-bfff-ffffffffffff"; id != want {
		t.Errorf("NewID = %s, want %s", id, want)
	}
	if !server.ValidID(id) {
		t.Error("NewID's own output is not ValidID")
	}
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id, err := server.NewID(now.Add(time.Duration(i)*time.Millisecond), nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] || !server.ValidID(id) || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("bad or repeated id %s", id)
		}
		if id <= prev {
			t.Fatalf("ids of later milliseconds do not sort after earlier ones: %s <= %s", id, prev)
		}
		seen[id], prev = true, id
	}
	if _, err := server.NewID(now, iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Error("a failing randomness source was ignored")
	}
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"019cc9a1-22fb-7fff-bfff-ffffffffffff", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"019CC9A1-22FB-7FFF-BFFF-FFFFFFFFFFFF", false}, // upper case is not what NewID writes
		{"019cc9a122fb7fffbfffffffffffffff", false},
		{"019cc9a1-22fb-7fff-bfff-fffffffffff", false},
		{"019cc9a1-22fb-7fff-bfff-ffffffffffff0", false},
		{"019cc9a1_22fb-7fff-bfff-ffffffffffff", false},
		{"019cc9a1-22fb-7fff-bfff-fffffffffffg", false},
		{"' OR 1=1 --------------------------", false},
		{"", false},
	} {
		t.Run(tt.id, func(t *testing.T) {
			if got := server.ValidID(tt.id); got != tt.ok {
				t.Errorf("ValidID(%q) = %v", tt.id, got)
			}
		})
	}
}

func TestAppendID(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	for _, tc := range []struct {
		name string
		rnd  io.Reader
	}{
		{"nil (crypto/rand)", nil},
		{"crypto/rand.Reader", rand.Reader},
		{"fixed bytes", bytes.NewReader(bytes.Repeat([]byte{0xff}, 10))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := server.AppendID([]byte("/items/"), now, tc.rnd)
			if err != nil {
				t.Fatal(err)
			}
			id, ok := strings.CutPrefix(string(b), "/items/")
			if !ok || !server.ValidID(id) || !strings.HasPrefix(id, "018bcfe5-687b-7") {
				t.Errorf("AppendID = %q, want /items/ and a UUIDv7 of %v", b, now)
			}
		})
	}
	if _, err := server.AppendID(nil, now, bytes.NewReader(nil)); err == nil {
		t.Error("AppendID with exhausted randomness succeeded")
	}
}
