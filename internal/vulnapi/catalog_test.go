package vulnapi

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

const groundTruthFile = "testdata/ground_truth.json"

// findingIDs are the ids of the scanner's catalog (briefs/catalog.md).
func findingIDs() []string {
	return strings.Fields(`TLS-LEGACY-PROTOCOL TLS-WEAK-CIPHER TLS-CERT-INVALID HTTP-NO-REDIRECT HSTS-MISSING
		HDR-NOSNIFF-MISSING HDR-FRAMING-MISSING HDR-CSP-MISSING HDR-SERVER-BANNER CORS-REFLECT-ORIGIN
		CORS-NULL-ORIGIN CORS-WILDCARD-CREDENTIALS AUTH-MISSING AUTH-GARBAGE-TOKEN JWT-ALG-NONE
		JWT-SIGNATURE-NOT-VERIFIED JWT-ALG-CONFUSION JWT-WEAK-SECRET JWT-EXPIRED-ACCEPTED JWT-NBF-IGNORED
		JWT-KID-INJECTION JWT-HEADER-KEY-TRUST AUTH-USER-ENUMERATION AUTH-NO-LOGIN-RATE-LIMIT BOLA-READ
		BOLA-WRITE BFLA MASS-ASSIGNMENT INPUT-5XX SQLI-ERROR SQLI-BOOLEAN SQLI-TIME XSS-REFLECTED
		ERROR-VERBOSE BODY-OVERSIZED EXPOSURE-DEBUG-ENDPOINT EXPOSURE-SECRET-FIELD`)
}

// TestGroundTruthFile keeps testdata/ground_truth.json equal to Catalog
// (VULNAPI_UPDATE=1 rewrites it), and checks the catalog itself: unique
// flaws, known finding ids, every finding id planted at least once.
func TestGroundTruthFile(t *testing.T) {
	want, err := json.MarshalIndent(Catalog(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("VULNAPI_UPDATE") == "1" {
		if err := os.WriteFile(groundTruthFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(groundTruthFile)
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	if err := json.Unmarshal(got, &entries); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entries, Catalog()) || !bytes.Equal(got, want) {
		t.Errorf("%s differs from Catalog(); run VULNAPI_UPDATE=1 go test ./internal/vulnapi", groundTruthFile)
	}

	ids := findingIDs()
	seen := map[Flaw]bool{}
	planted := map[string]bool{}
	for _, e := range Catalog() {
		if seen[e.Flaw] {
			t.Errorf("flaw %s twice", e.Flaw)
		}
		seen[e.Flaw] = true
		if !slices.Contains(ids, e.Finding) {
			t.Errorf("flaw %s: unknown finding id %s", e.Flaw, e.Finding)
		}
		planted[e.Finding] = true
	}
	for _, id := range ids {
		if !planted[id] {
			t.Errorf("finding id %s has no flaw", id)
		}
	}
	if len(Catalog()) < 20 {
		t.Errorf("only %d flaws", len(Catalog()))
	}
}

// TestFlawConstants: every Flaw constant declared in flaws.go is in the
// catalog (a flaw in the code is in the ground truth and vice versa).
func TestFlawConstants(t *testing.T) {
	src, err := os.ReadFile("flaws.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []Flaw
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[0], "Flaw") && f[1] == "Flaw" && f[2] == "=" {
			declared = append(declared, Flaw(strings.Trim(f[3], `"`)))
		}
	}
	all := All()
	for _, f := range declared {
		if !all[f] {
			t.Errorf("flaw %s declared but not in Catalog", f)
		}
	}
	if len(declared) != len(all) {
		t.Errorf("%d flaws declared, %d in Catalog", len(declared), len(all))
	}
}

// TestOperationsDocumented: every operation of the ground truth (except
// the undocumented debug endpoint) is in the OpenAPI document, and every
// documented operation other than the public ones declares a scope.
func TestOperationsDocumented(t *testing.T) {
	tg, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	doc := tg.OpenAPI()
	paths := doc["paths"].(map[string]any)
	public := []string{"POST /token", "GET /.well-known/jwks.json", "GET /openapi.json", "GET /healthz"}
	ops := map[string]bool{}
	for p, item := range paths {
		for method, o := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			op := strings.ToUpper(method) + " " + p
			ops[op] = true
			sec := o.(map[string]any)["security"].([]map[string]any)
			if slices.Contains(public, op) != (len(sec) == 0) {
				t.Errorf("%s: security %v", op, sec)
			}
		}
	}
	for _, e := range Catalog() {
		if e.Operation != "" && e.Flaw != FlawDebugEndpoint && !ops[e.Operation] {
			t.Errorf("flaw %s: operation %q not documented", e.Flaw, e.Operation)
		}
	}
	if _, err := json.Marshal(doc); err != nil {
		t.Error(err)
	}
}

// TestWeakSecretInWordList: the weak secret is in the bundled list.
func TestWeakSecretInWordList(t *testing.T) {
	b, err := os.ReadFile("testdata/jwt-secrets.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(b), "\n"), WeakJWTSecret) {
		t.Errorf("%q not in the word list", WeakJWTSecret)
	}
}

func TestParseFlaws(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"all", len(Catalog()), false},
		{"none", 0, false},
		{"", 0, false},
		{"bola-read, sqli-time", 2, false},
		{"bola-read,nonsense", 0, true},
	} {
		s, err := ParseFlaws(tc.in)
		if (err != nil) != tc.wantErr || len(s) != tc.want {
			t.Errorf("ParseFlaws(%q) = %v, %v", tc.in, s, err)
		}
	}
	if _, err := New(Options{Flaws: Set{"nonsense": true}}); err == nil {
		t.Error("New accepted an unknown flaw")
	}
}
