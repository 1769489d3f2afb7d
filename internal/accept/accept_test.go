package accept

import (
	"net/http/httptest"
	"testing"
)

func TestPrefersHTML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		accept []string
		want   bool
	}{
		{"none", nil, false},
		{"browser", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, true},
		{"xhtml", []string{"application/xhtml+xml"}, true},
		{"json", []string{"application/json"}, false},
		{"problem", []string{"application/problem+json"}, false},
		{"wildcard", []string{"*/*"}, false},
		{"tie goes to JSON", []string{"text/html, application/json"}, false},
		{"json preferred", []string{"text/html;q=0.5, application/json"}, false},
		{"html preferred", []string{"text/html, application/json;q=0.9"}, true},
		{"two header lines", []string{"application/json;q=0.1", "text/html"}, true},
		{"case", []string{"TEXT/HTML"}, true},
		{"invalid q ignored", []string{"text/html;q=2"}, false},
		{"NaN ignored", []string{"text/html;q=NaN"}, false},
		{"q zero", []string{"text/html;q=0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, a := range tc.accept {
				r.Header.Add("Accept", a)
			}
			if got := PrefersHTML(r); got != tc.want {
				t.Fatalf("PrefersHTML(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}
