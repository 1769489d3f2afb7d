package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const hostile = `</pre><script>alert(1)</script><img src=x onerror=alert(2)>"'&<!--` + "\x1b[31m"

func sampleReport() *Report {
	return &Report{
		Target: "https://api.example:8443", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), DurationS: 1.5, Requests: 42,
		Findings: []Finding{
			{ID: "BOLA-READ", Title: "Broken object level authorization: read", Severity: High, OWASP: "API1:2023", CWE: []string{"CWE-639"}, Operation: "GET /items/{id}", Parameter: "id", Evidence: hostile, Fix: "check ownership"},
			{ID: "HDR-NOSNIFF-MISSING", Title: "x", Severity: Low, OWASP: "API8:2023", CWE: []string{"CWE-693"}, Evidence: "e", Fix: "f"},
			{ID: "INFO-NOTE", Title: "Scan note", Severity: Info, OWASP: "API9:2023", Evidence: "note"},
		},
	}
}

func TestJSONContract(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		sort.Strings(k)
		return k
	}
	if got, want := keys(top), []string{"duration_s", "findings", "requests", "started", "target"}; !slices.Equal(got, want) {
		t.Errorf("top-level keys %v, want %v", got, want)
	}
	var fs []map[string]json.RawMessage
	if err := json.Unmarshal(top["findings"], &fs); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if got, want := keys(f), []string{"cwe", "evidence", "fix", "id", "operation", "owasp", "parameter", "severity", "title"}; !slices.Equal(got, want) {
			t.Errorf("finding keys %v, want %v", got, want)
		}
		if string(f["cwe"]) == "null" {
			t.Error("cwe must be an array, never null")
		}
	}
	// an empty report has "findings": []
	b.Reset()
	_ = WriteJSON(&b, &Report{Target: "x"})
	if !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("empty findings: %s", b.String())
	}
}

func TestCatalogIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	reOWASP := regexp.MustCompile(`^API([1-9]|10):2023$`)
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if !reOWASP.MatchString(r.OWASP) || r.Severity.Rank() < 0 || r.Title == "" || r.Fix == "" || r.Description == "" {
			t.Errorf("incomplete rule %+v", r)
		}
		if r.Severity == Info != (r.ID == "INFO-NOTE") {
			t.Errorf("%s: only inventory notes are info", r.ID)
		}
		for _, c := range r.CWE {
			if !regexp.MustCompile(`^CWE-\d+$`).MatchString(c) {
				t.Errorf("%s: bad CWE %q", r.ID, c)
			}
		}
	}
	if len(seen) != 38 {
		t.Errorf("%d rules, want the catalog's 37 ids and INFO-NOTE", len(seen))
	}
}

// sarifRequired is the subset of the SARIF 2.1.0 schema the report uses:
// for each object kind, its required properties, the kinds of its
// properties, and enums.
type sarifKind struct {
	required []string
	props    map[string]string // property -> kind ("string", "array:<kind>", "object:<kind>", "int", "bool", "any")
	enums    map[string][]string
	anyOf    [][]string // at least one group fully present
}

func sarifSchema() map[string]sarifKind {
	return map[string]sarifKind{
		"log":        {required: []string{"version", "runs"}, props: map[string]string{"$schema": "string", "version": "string", "runs": "array:run"}, enums: map[string][]string{"version": {"2.1.0"}}},
		"run":        {required: []string{"tool"}, props: map[string]string{"tool": "object:tool", "results": "array:result", "invocations": "array:invocation", "properties": "any"}},
		"tool":       {required: []string{"driver"}, props: map[string]string{"driver": "object:component"}},
		"component":  {required: []string{"name"}, props: map[string]string{"name": "string", "informationUri": "string", "version": "string", "rules": "array:descriptor"}},
		"descriptor": {required: []string{"id"}, props: map[string]string{"id": "string", "name": "string", "shortDescription": "object:mfmessage", "fullDescription": "object:mfmessage", "help": "object:mfmessage", "defaultConfiguration": "object:config", "properties": "any"}},
		"mfmessage":  {required: []string{"text"}, props: map[string]string{"text": "string"}},
		"config":     {props: map[string]string{"level": "string"}, enums: map[string][]string{"level": {"none", "note", "warning", "error"}}},
		"invocation": {required: []string{"executionSuccessful"}, props: map[string]string{"executionSuccessful": "bool", "startTimeUtc": "string"}},
		"result":     {required: []string{"message"}, props: map[string]string{"ruleId": "string", "ruleIndex": "int", "level": "string", "message": "object:message", "locations": "array:location", "properties": "any"}, enums: map[string][]string{"level": {"none", "note", "warning", "error"}}},
		"message":    {props: map[string]string{"text": "string", "id": "string"}, anyOf: [][]string{{"text"}, {"id"}}},
		"location":   {props: map[string]string{"physicalLocation": "object:physical", "logicalLocations": "array:logical", "message": "object:message"}},
		"physical":   {props: map[string]string{"artifactLocation": "object:artifact"}, anyOf: [][]string{{"address"}, {"artifactLocation"}}},
		"artifact":   {props: map[string]string{"uri": "string"}},
		"logical":    {props: map[string]string{"name": "string", "fullyQualifiedName": "string", "kind": "string"}},
	}
}

// validateSARIF checks v against sarifSchema; unknown properties are
// errors too (the 2.1.0 schema allows no others on these objects but
// "properties").
func validateSARIF(kind string, v any, path string) []string {
	sk, ok := sarifSchema()[kind]
	if !ok {
		return []string{path + ": unknown kind " + kind}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return []string{path + ": not an object"}
	}
	var errs []string
	for _, r := range sk.required {
		if _, ok := m[r]; !ok {
			errs = append(errs, fmt.Sprintf("%s: missing required %q", path, r))
		}
	}
	if len(sk.anyOf) > 0 {
		okAny := false
		for _, g := range sk.anyOf {
			all := true
			for _, k := range g {
				if _, ok := m[k]; !ok {
					all = false
				}
			}
			okAny = okAny || all
		}
		if !okAny {
			errs = append(errs, fmt.Sprintf("%s: needs one of %v", path, sk.anyOf))
		}
	}
	for k, x := range m {
		want, ok := sk.props[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: property %q not allowed", path, k))
			continue
		}
		p := path + "." + k
		switch {
		case want == "any":
		case want == "string":
			s, ok := x.(string)
			if !ok {
				errs = append(errs, p+": not a string")
			} else if en, ok := sk.enums[k]; ok && !slices.Contains(en, s) {
				errs = append(errs, fmt.Sprintf("%s: %q not in %v", p, s, en))
			}
		case want == "int":
			if f, ok := x.(float64); !ok || f != float64(int(f)) || f < -1 {
				errs = append(errs, p+": not an integer >= -1")
			}
		case want == "bool":
			if _, ok := x.(bool); !ok {
				errs = append(errs, p+": not a boolean")
			}
		case strings.HasPrefix(want, "object:"):
			errs = append(errs, validateSARIF(want[7:], x, p)...)
		case strings.HasPrefix(want, "array:"):
			arr, ok := x.([]any)
			if !ok {
				errs = append(errs, p+": not an array")
				continue
			}
			for i, e := range arr {
				errs = append(errs, validateSARIF(want[6:], e, fmt.Sprintf("%s[%d]", p, i))...)
			}
		}
	}
	return errs
}

func TestSARIFIsValid(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	for _, e := range validateSARIF("log", v, "$") {
		t.Error(e)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Locations []struct {
					LogicalLocations []struct{ Name string }
				}
			}
		}
	}
	_ = json.Unmarshal(b.Bytes(), &log)
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != 3 {
		t.Fatalf("%d rules, %d results", len(run.Tool.Driver.Rules), len(run.Results))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("ruleIndex %d is not %s", r.RuleIndex, r.RuleID)
		}
	}
	if run.Results[0].Locations[0].LogicalLocations[0].Name != "GET /items/{id}" {
		t.Errorf("location %+v", run.Results[0].Locations)
	}
	// the validator catches what it should
	bad := map[string]any{"version": "2.0.0", "runs": []any{map[string]any{"tool": map[string]any{"driver": map[string]any{}}, "results": []any{map[string]any{"level": "fatal"}}}}}
	if errs := validateSARIF("log", bad, "$"); len(errs) < 4 {
		t.Errorf("the validator missed errors: %v", errs)
	}
}

func TestHTMLReportEscapesEverything(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"<script>", "<img", "onerror=alert(2)>", "</pre><script", "<!--"} {
		if strings.Contains(h, bad) {
			t.Errorf("the hostile evidence came through unescaped: %q", bad)
		}
	}
	if !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the evidence is missing (escaped)")
	}
	for _, want := range []string{`http-equiv="Content-Security-Policy"`, "default-src 'none'", "script-src 'none'", "style-src 'sha256-", "Summary by severity", "Summary by category", "API1:2023"} {
		if !strings.Contains(html.UnescapeString(h), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, ext := range []string{"http://", "https://cdn", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(strings.ReplaceAll(h, "https://api.example:8443", ""), ext) {
			t.Errorf("external reference %q", ext)
		}
	}
}

func TestTextReportDropsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("an escape sequence reached the terminal output")
	}
}

func TestMask(t *testing.T) {
	for _, tt := range []struct{ in, leak string }{
		{`{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl","x":1}`, "c2lnbmF0dXJl"},
		{`grant_type=password&username=alice&password=hunter2hunter2`, "hunter2"},
		{`{"password_hash":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaGhhc2g"}`, "aGFzaGhhc2g"},
		{`{"client_secret":"s3cr3t-value-long"}`, "value-long"},
		{"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQ"},
	} {
		if got := maskBody(tt.in); strings.Contains(got, tt.leak) {
			t.Errorf("maskBody(%q) = %q leaks %q", tt.in, got, tt.leak)
		}
	}
	if got := maskHeader("Authorization", "Bearer abcdefghijklmnop"); got != "Bearer abcd…(16 chars)" {
		t.Errorf("authorization masked as %q", got)
	}
	if got := maskHeader("Cookie", "sid=abcdefghijkl; csrf=zyxwvutsrqpo"); strings.Contains(got, "efghijkl") || strings.Contains(got, "tsrqpo") {
		t.Errorf("cookie masked as %q", got)
	}
}
