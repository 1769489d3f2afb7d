package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SARIF 2.1.0 types: only what the report uses.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool         `json:"tool"`
	Results    []sarifResult     `json:"results"`
	Invocation []sarifInvocation `json:"invocations,omitempty"`
	Properties map[string]any    `json:"properties,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Critical, High:
		return "error"
	case Medium:
		return "warning"
	case Low:
		return "note"
	}
	return "none"
}

// securitySeverity is GitHub code scanning's numeric severity.
func securitySeverity(s Severity) string {
	return map[Severity]string{Critical: "9.5", High: "8.0", Medium: "5.5", Low: "3.0", Info: "0.0"}[s]
}

// WriteSARIF writes the report as SARIF 2.1.0: one rule per catalog entry,
// one result per finding located at its operation (a logical location,
// and the target URL as the artifact).
func WriteSARIF(w io.Writer, r *Report) error {
	rules := Rules()
	index := map[string]int{}
	drv := sarifDriver{Name: "fortapi scan", InformationURI: "https://github.com/fortapi/fortapi/blob/main/docs/scan.md", Version: "1"}
	for i, ru := range rules {
		index[ru.ID] = i
		tags := []string{"security", ru.Category, ru.OWASP}
		tags = append(tags, ru.CWE...)
		drv.Rules = append(drv.Rules, sarifRule{
			ID: ru.ID, Name: camel(ru.ID),
			ShortDescription:     sarifText{ru.Title},
			FullDescription:      sarifText{ru.Description},
			Help:                 sarifText{"Fix: " + ru.Fix},
			DefaultConfiguration: sarifConfig{sarifLevel(ru.Severity)},
			Properties:           map[string]any{"tags": tags, "security-severity": securitySeverity(ru.Severity), "owasp": ru.OWASP, "cwe": ru.CWE},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{},
		Invocation: []sarifInvocation{{ExecutionSuccessful: true, StartTimeUTC: r.Started.UTC().Format("2006-01-02T15:04:05Z")}},
		Properties: map[string]any{"target": r.Target, "requests": r.Requests, "duration_s": r.DurationS}}
	for _, f := range r.Findings {
		i, ok := index[f.ID]
		if !ok {
			return fmt.Errorf("scan: finding %s is not in the catalog", f.ID)
		}
		where := f.Operation
		if where == "" {
			where = "(host)"
		}
		msg := fmt.Sprintf("%s: %s", f.Title, where)
		if f.Parameter != "" {
			msg += " [" + f.Parameter + "]"
		}
		msg += "\n" + f.Evidence
		loc := sarifLocation{
			PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: r.Target}},
			LogicalLocations: []sarifLogical{{Name: where, FullyQualifiedName: strings.TrimSpace(where + " " + f.Parameter), Kind: "function"}},
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: f.ID, RuleIndex: i, Level: sarifLevel(f.Severity), Message: sarifText{msg}, Locations: []sarifLocation{loc},
			Properties: map[string]any{"severity": string(f.Severity), "operation": f.Operation, "parameter": f.Parameter, "owasp": f.OWASP, "cwe": f.CWE},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// camel turns BOLA-READ into BolaRead.
func camel(id string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(id), "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}
