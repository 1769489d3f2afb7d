package fortapi_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLibrariesDoNotImportTheServer enforces the layout rule: libraries
// (every package outside server/, cmd/ and bench/) never depend on the
// reference server or the command; and no package's code (tests aside)
// depends on internal/e2e, the end-to-end tests' helpers.
func TestLibrariesDoNotImportTheServer(t *testing.T) {
	t.Parallel()
	const mod = "github.com/fortapi/fortapi"
	// One go list for every package and its dependencies (.Deps: all it
	// imports, recursively, as go list -deps lists them): one go list per
	// library took 2-5 s.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(out), mod+"/server/") {
		t.Fatal("go list did not see the server packages; the check would prove nothing")
	}
	const testOnly = mod + "/internal/e2e"
	if !strings.Contains(string(out), testOnly+" ") {
		t.Fatalf("go list did not see %s; the check would prove nothing", testOnly)
	}
	libraries := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, deps := fields[0], fields[1:]
		if slices.Contains(deps, testOnly) {
			t.Errorf("%s depends on %s, which is for tests only", pkg, testOnly)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		if rel == "server" || strings.HasPrefix(rel, "server/") || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "bench") {
			continue
		}
		libraries++
		t.Run(pkg, func(t *testing.T) {
			for _, d := range deps {
				if d == mod+"/server" || strings.HasPrefix(d, mod+"/server/") || strings.HasPrefix(d, mod+"/cmd/") {
					t.Errorf("library %s depends on %s", pkg, d)
				}
			}
		})
	}
	if libraries < 3 {
		t.Errorf("only %d library packages found", libraries)
	}
}
