package testutil

import (
	"net"
	"testing"
)

func TestDialAddr(t *testing.T) {
	tests := []struct {
		raw, defPort, want string
	}{
		{DefaultPostgresURL, "5432", "127.0.0.1:5432"},
		{DefaultRedisURL, "6379", "127.0.0.1:6379"},
		{"redis://localhost/0", "6379", "localhost:6379"},
		{"postgres://u:pw@[::1]:6543/db", "5432", "[::1]:6543"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := dialAddr(tc.raw, tc.defPort)
			if err != nil || got != tc.want {
				t.Errorf("dialAddr(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"postgres://u:s3cret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"postgres://u:s3cret@h:port/db", "(a URL that does not parse)"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			if got := Redacted(tc.raw); got != tc.want {
				t.Errorf("Redacted(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// TestServiceURL checks the three ways a service is located: from the
// environment, by a probe that finds a listener, and a skip with one line
// when nothing answers.
func TestServiceURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := "redis://" + ln.Addr().String() + "/0"
	// A port that was open a moment ago and is closed now: nothing answers.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "redis://" + ln2.Addr().String() + "/0"
	ln2.Close()

	const env = "FORTAPI_TEST_TESTUTIL_PROBE_URL"
	tests := []struct {
		name     string
		envValue string
		def      string
		want     string
		skipped  bool
	}{
		{"environment wins, unprobed", "redis://example.invalid:1/0", closed, "redis://example.invalid:1/0", false},
		{"default answers", "", open, open, false},
		{"nothing answers", "", closed, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(env, tc.envValue)
			t.Setenv(EnvStrict, "")
			var got string
			var skipMsg string
			inner := t.Run("probe", func(t *testing.T) {
				defer func() {
					if t.Skipped() {
						skipMsg = "skipped"
					}
				}()
				got = serviceURL(t, "Redis", env, tc.def, "6379")
			})
			if !inner && !tc.skipped {
				t.Fatalf("the probe failed")
			}
			if (skipMsg != "") != tc.skipped {
				t.Errorf("skipped = %v, want %v", skipMsg != "", tc.skipped)
			}
			if !tc.skipped && got != tc.want {
				t.Errorf("serviceURL = %q, want %q", got, tc.want)
			}
		})
	}
}
