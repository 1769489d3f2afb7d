package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report in the JSON contract: {"target", "started",
// "duration_s", "requests", "findings": [...]}.
func WriteJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	for i := range out.Findings {
		if out.Findings[i].CWE == nil {
			out.Findings[i].CWE = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteText writes the report for a terminal.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fortapi scan of %s: %d requests in %.1f s\n", r.Target, r.Requests, r.DurationS)
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(&b, "findings: %d critical, %d high, %d medium, %d low, %d info\n", counts[Critical], counts[High], counts[Medium], counts[Low], counts[Info])
	for _, f := range r.Findings {
		where := f.Operation
		if where == "" {
			where = "(host)"
		}
		if f.Parameter != "" {
			where += " [" + f.Parameter + "]"
		}
		if f.Severity == Info {
			fmt.Fprintf(&b, "\nINFO  %s\n", oneLine(f.Evidence))
			continue
		}
		fmt.Fprintf(&b, "\n%-8s %s  %s\n  %s  %s %s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Title, where, f.OWASP, strings.Join(f.CWE, ","))
		for _, l := range strings.Split(f.Evidence, "\n") {
			fmt.Fprintf(&b, "    | %s\n", sanitizeTerminal(l))
		}
		fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string { return sanitizeTerminal(strings.ReplaceAll(s, "\n", " ")) }

// sanitizeTerminal drops control characters (escape sequences from a
// hostile answer must not reach the terminal).
func sanitizeTerminal(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
