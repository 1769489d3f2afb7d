package scan

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"io"
	"strings"
)

// htmlStyle is the report's only style; the CSP allows it by hash.
const htmlStyle = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.sev{font-weight:bold;text-transform:uppercase}.critical{color:#8b0000}.high{color:#c0392b}.medium{color:#b9770e}.low{color:#1f618d}.info{color:#555}
pre{background:#f6f6f6;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-all}section{border-top:1px solid #ddd;margin-top:1em}`

const htmlTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="referrer" content="no-referrer">
<title>fortapi scan of {{.R.Target}}</title>
<style>{{.Style}}</style></head>
<body>
<h1>fortapi scan of {{.R.Target}}</h1>
<p>Started {{.Started}}, {{.R.DurationS}} s, {{.R.Requests}} requests, {{len .R.Findings}} findings.</p>
<h2>Summary by severity</h2>
<table><tr>{{range .Sev}}<th class="sev {{.Name}}">{{.Name}}</th>{{end}}</tr><tr>{{range .Sev}}<td>{{.N}}</td>{{end}}</tr></table>
<h2>Summary by category</h2>
<table><tr><th>OWASP API Top 10 2023</th><th>findings</th></tr>{{range .Cat}}<tr><td>{{.Name}}</td><td>{{.N}}</td></tr>{{end}}</table>
<h2>Findings</h2>
{{range .R.Findings}}<section>
<h3><span class="sev {{.Severity}}">{{.Severity}}</span> {{.ID}}: {{.Title}}</h3>
<p>Operation: <code>{{if .Operation}}{{.Operation}}{{else}}(host){{end}}</code>{{if .Parameter}} parameter <code>{{.Parameter}}</code>{{end}} · {{.OWASP}} · {{range .CWE}}{{.}} {{end}}</p>
<pre>{{.Evidence}}</pre>
<p>Fix: {{.Fix}}</p>
</section>{{else}}<p>No findings.</p>{{end}}
</body></html>
`

type htmlCount struct {
	Name string
	N    int
}

// WriteHTML writes a self-contained HTML report: no external assets, a
// strict Content-Security-Policy, every string escaped by html/template.
func WriteHTML(w io.Writer, r *Report) error {
	t, err := template.New("report").Parse(htmlTemplate)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(htmlStyle))
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'"
	var sev []htmlCount
	for _, s := range []Severity{Critical, High, Medium, Low, Info} {
		n := 0
		for _, f := range r.Findings {
			if f.Severity == s {
				n++
			}
		}
		sev = append(sev, htmlCount{string(s), n})
	}
	cats := map[string]int{}
	var order []string
	for _, f := range r.Findings {
		if f.Severity == Info {
			continue
		}
		if _, ok := cats[f.OWASP]; !ok {
			order = append(order, f.OWASP)
		}
		cats[f.OWASP]++
	}
	var cat []htmlCount
	for _, c := range order {
		cat = append(cat, htmlCount{c, cats[c]})
	}
	return t.Execute(w, map[string]any{
		"R": r, "CSP": csp, "Style": template.CSS(htmlStyle), "Sev": sev, "Cat": cat,
		"Started": strings.TrimSuffix(r.Started.UTC().Format("2006-01-02 15:04:05Z07:00"), "Z") + " UTC",
	})
}
