package fortapi_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibrariesDoNotImportTheServer enforces the layout rule: libraries
// (every package outside server/, cmd/ and bench/) never depend on the
// reference server or the command.
func TestLibrariesDoNotImportTheServer(t *testing.T) {
	const mod = "github.com/fortapi/fortapi"
	pkgs, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(pkgs), mod+"/server/") {
		t.Fatal("go list did not see the server packages; the check would prove nothing")
	}
	libraries := 0
	for _, pkg := range strings.Fields(string(pkgs)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		if rel == "server" || strings.HasPrefix(rel, "server/") || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "bench") {
			continue
		}
		libraries++
		t.Run(pkg, func(t *testing.T) {
			deps, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, d := range strings.Fields(string(deps)) {
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
