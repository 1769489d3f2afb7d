package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = "../.."

// TestReadmeListsEveryFlag compares the README's flag reference (its
// "## Flags" section) with the flags each command defines, both ways, so
// that neither can drift from the other.
func TestReadmeListsEveryFlag(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Flags\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Flags" section`)
	}
	section := readme[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	flagName := regexp.MustCompile("`--([a-z0-9-]+)")
	names := func(cell string) []string {
		var out []string
		for _, m := range flagName.FindAllStringSubmatch(cell, -1) {
			out = append(out, m[1])
		}
		return out
	}
	documented := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		first := strings.TrimSpace(cells[0])
		switch {
		case strings.HasPrefix(first, "`--"): // the serve table: one flag (or two) a row
			documented["serve"] = append(documented["serve"], names(first)...)
		case strings.HasPrefix(first, "`fortapi "): // the other commands: the flags in the second cell
			var path []string
			for _, w := range strings.Fields(strings.Trim(first, "`"))[1:] {
				if w != strings.ToLower(w) {
					break // NAME, KID, URL
				}
				path = append(path, w)
			}
			key := strings.Join(path, " ")
			if _, dup := documented[key]; dup {
				t.Errorf("README lists %q twice", key)
			}
			documented[key] = []string{}
			if len(cells) > 1 {
				documented[key] = append(documented[key], names(cells[1])...)
			}
		}
	}
	paths := commandPaths(t)
	for _, path := range paths {
		name := strings.Join(path, " ")
		doc, ok := documented[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defined := helpFlags(helpOf(t, path))
			if !ok {
				t.Fatalf("README's Flags section has no row for fortapi %s (flags %v)", name, defined)
			}
			slices.Sort(doc)
			doc = slices.Compact(doc)
			for _, f := range defined {
				if !slices.Contains(doc, f) {
					t.Errorf("fortapi %s --%s is not in README.md", name, f)
				}
			}
			for _, f := range doc {
				if !slices.Contains(defined, f) {
					t.Errorf("README.md lists fortapi %s --%s, which the command does not define", name, f)
				}
			}
		})
	}
	for _, path := range paths {
		delete(documented, strings.Join(path, " "))
	}
	if len(documented) > 0 {
		t.Errorf("README.md lists commands that do not exist: %v", documented)
	}
}

// TestDocsPointOnlyToRepositoryFiles checks every relative link of
// README.md and docs/*.md, and every backquoted path into the repository
// (`docs/scan.md`, `server/httpapi/`, `example_test.go`), against the files
// git tracks: a fresh clone has those and nothing else.
func TestDocsPointOnlyToRepositoryFiles(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files").Output()
	if err != nil || len(out) == 0 {
		t.Skipf("not a git checkout (git ls-files: %v): nothing to compare with", err)
	}
	tracked := map[string]bool{}
	base := map[string]bool{} // file names, for a bare `serve.go`
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		tracked[f] = true
		base[filepath.Base(f)] = true
		for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
			tracked[d] = true
		}
	}
	docs := []string{"README.md"}
	for f := range tracked {
		if strings.HasPrefix(f, "docs/") && strings.HasSuffix(f, ".md") {
			docs = append(docs, f)
		}
	}
	slices.Sort(docs)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	code := regexp.MustCompile("`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?)`")
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(doc)
		check := func(target, what string) {
			checked++
			p := filepath.ToSlash(filepath.Clean(filepath.Join(dir, target)))
			if !tracked[p] {
				t.Errorf("%s: %s %q points to %s, which is not in the repository", doc, what, target, p)
			}
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			check(target, "link")
		}
		for _, m := range code.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimSuffix(m[1], "/")
			first, _, nested := strings.Cut(p, "/")
			// A path whose first part is tracked at the top, or a Go,
			// Markdown or shell file: a file of this repository (paths
			// such as fortapi-data/tls/ or DATA-DIR/acme are the server's).
			switch {
			case nested && tracked[first] && first != "fortapi-data":
				if !tracked[p] && !tracked[filepath.ToSlash(filepath.Join(dir, p))] {
					t.Errorf("%s: `%s` is not in the repository", doc, m[1])
				}
				checked++
			case !nested && regexp.MustCompile(`\.(go|md|sh)$`).MatchString(p):
				if !base[p] {
					t.Errorf("%s: `%s` is not in the repository", doc, m[1])
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d links and paths: the patterns no longer match the docs", checked)
	}
}
