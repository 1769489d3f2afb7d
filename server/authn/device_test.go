package authn

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// TestDeviceCredentials: a device credential verifies for the account it
// was issued to, until it expires, and for nothing else: not for another
// account, not under another key, not tampered with in any byte, not
// with another version, not issued in the future.
func TestDeviceCredentials(t *testing.T) {
	key := bytes.Repeat([]byte{7}, MinDeviceKeyBytes)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cred, err := newDevice(key, rand.Reader, "admin", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cred) != deviceLen || !strings.HasPrefix(cred, DevicePrefix) {
		t.Fatalf("credential %q", cred)
	}
	d, ok := verifyDevice(key, cred, "admin", t0, DefaultDeviceLifetime)
	if !ok || !d.expires.Equal(t0.Add(DefaultDeviceLifetime)) || len(d.id) != deviceNonceBytes {
		t.Fatalf("the fresh credential: %v %+v", ok, d)
	}
	future, _ := newDevice(key, rand.Reader, "admin", t0.Add(time.Hour))
	tests := []struct {
		name    string
		key     []byte
		cred    string
		account string
		at      time.Time
		want    bool
	}{
		{"valid, a day later", key, cred, "admin", t0.Add(24 * time.Hour), true},
		{"valid, its last second", key, cred, "admin", t0.Add(DefaultDeviceLifetime - time.Second), true},
		{"expired", key, cred, "admin", t0.Add(DefaultDeviceLifetime), false},
		{"another account", key, cred, "alice", t0, false},
		{"another account, a prefix of the name", key, cred, "admi", t0, false},
		{"another key", bytes.Repeat([]byte{8}, MinDeviceKeyBytes), cred, "admin", t0, false},
		{"another version", key, "dv2." + cred[len(DevicePrefix):], "admin", t0, false},
		{"truncated", key, cred[:len(cred)-1], "admin", t0, false},
		{"extended", key, cred + "A", "admin", t0, false},
		{"empty", key, "", "admin", t0, false},
		{"issued in the future", key, future, "admin", t0, false},
	}
	for i := len(DevicePrefix); i < len(cred); i++ { // every character of the payload changed
		b := []byte(cred)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		tests = append(tests, struct {
			name    string
			key     []byte
			cred    string
			account string
			at      time.Time
			want    bool
		}{"tampered", key, string(b), "admin", t0, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := verifyDevice(tt.key, tt.cred, tt.account, tt.at, DefaultDeviceLifetime); got != tt.want {
				t.Errorf("verify = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzVerifyDevice: any presented string is refused or verified without
// panicking, and only the issued one verifies.
func FuzzVerifyDevice(f *testing.F) {
	key := bytes.Repeat([]byte{7}, MinDeviceKeyBytes)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cred, err := newDevice(key, rand.Reader, "admin", t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cred)
	f.Add(DevicePrefix + strings.Repeat("A", deviceLen-len(DevicePrefix)))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if _, ok := verifyDevice(key, s, "admin", t0, DefaultDeviceLifetime); ok && s != cred {
			t.Fatalf("%q verified", s)
		}
	})
}
