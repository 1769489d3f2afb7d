package main

import (
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/scan"
)

// commandPaths are the commands the top-level usage lists ("serve",
// "user add", "keys revoke", ...), read from the usage text itself so that
// a new command cannot escape the tests below.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var paths [][]string
	for _, line := range strings.Split(usage, "\n") {
		rest, ok := strings.CutPrefix(line, "  fortapi ")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, "  ") // the description follows two spaces
		var words []string
		for _, w := range strings.Fields(rest) {
			if !regexp.MustCompile(`^[a-z][a-z|-]*$`).MatchString(w) {
				break
			}
			words = append(words, w)
		}
		if len(words) == 0 || words[0] == "help" {
			continue
		}
		last := words[len(words)-1]
		for _, alt := range strings.Split(last, "|") {
			paths = append(paths, append(slices.Clone(words[:len(words)-1]), alt))
		}
	}
	if len(paths) < 14 {
		t.Fatalf("found only %d commands in the usage text: %v", len(paths), paths)
	}
	return paths
}

// helpOf runs "fortapi PATH --help" in process.
func helpOf(t *testing.T, path []string) string {
	t.Helper()
	code, out, errOut := runCmd(t, append(slices.Clone(path), "--help"), nil)
	if code != exitOK || errOut != "" || out == "" {
		t.Fatalf("fortapi %s --help: exit %d, stdout %q, stderr %q", strings.Join(path, " "), code, out, errOut)
	}
	return out
}

var helpFlagLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)

// helpFlags are the flags a command's help lists.
func helpFlags(help string) []string {
	var flags []string
	for _, m := range helpFlagLine.FindAllStringSubmatch(help, -1) {
		flags = append(flags, m[1])
	}
	slices.Sort(flags)
	return slices.Compact(flags)
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	_, want, _ := runCmd(t, []string{"version"}, nil)
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, errOut := runCmd(t, args, nil)
		if code != exitOK || errOut != "" || out != want || !strings.HasPrefix(out, "fortapi ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, errOut := runCmd(t, []string{"--version", "x"}, nil); code != exitUsage || !strings.Contains(errOut, `unexpected argument "x"`) {
		t.Errorf("--version x: exit %d, %q", code, errOut)
	}
}

func TestVersionOf(t *testing.T) {
	t.Parallel()
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tt := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"go install", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"go build, no VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"go build in a clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, "devel-0123456789ab"},
		{"go build in a modified checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}}, "devel-0123456789ab+dirty"},
		{"pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206101929-723b72a1b2c3"}}, "v0.0.0-20261206101929-723b72a1b2c3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := versionOf(tt.bi, tt.bi != nil); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFlagErrorsSpelledLikeTheDocs: the flag package writes "-name"; the
// docs, the help and every other message write "--name".
func TestFlagErrorsSpelledLikeTheDocs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bogus"}, "fortapi serve: flag provided but not defined: --bogus (see --help)"},
		{[]string{"serve", "-bogus"}, "flag provided but not defined: --bogus"},
		{[]string{"serve", "--addr"}, "flag needs an argument: --addr"},
		{[]string{"serve", "--rate-scale", "fast"}, `invalid value "fast" for --rate-scale: parse error`},
		{[]string{"serve", "--instances", "-1 -x"}, `invalid value "-1 -x" for --instances`},
		{[]string{"serve", "--insecure-http=maybe"}, `invalid boolean value "maybe" for --insecure-http`},
		{[]string{"serve", "--shutdown-timeout", "soon"}, `invalid value "soon" for --shutdown-timeout`},
		{[]string{"user", "add", "bob", "--role"}, "flag needs an argument: --role"},
		{[]string{"keys", "list", "--data"}, "flag provided but not defined: --data"},
		{[]string{"store", "copy", "--form", "x"}, "fortapi store copy: flag provided but not defined: --form"},
		{[]string{"scan", "https://127.0.0.1:1", "--rate", "x"}, `invalid value "x" for --rate`},
		{[]string{"openapi", "--pretty"}, "flag provided but not defined: --pretty"},
		{[]string{"version", "--short"}, "flag provided but not defined: --short"},
		{[]string{"hash-password", "--cost", "3"}, "flag provided but not defined: --cost"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCmd(t, tt.args, nil)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
			if regexp.MustCompile(`(: | for )-[a-z]`).MatchString(errOut) {
				t.Errorf("a flag spelled with one dash: %q", errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("not one line: %q", errOut)
			}
		})
	}
}

// TestEveryCommandHelp checks each command's --help: its own text (not its
// group's), a usage line naming it, no empty "Flags" heading, no internal
// package names, and exit 0.
func TestEveryCommandHelp(t *testing.T) {
	t.Parallel()
	// What a user of the binary has no use for: the module's package
	// names and paths.
	internal := regexp.MustCompile(`github\.com/|\bserver/|\bhttpapi\b|\bauthn\b|\bsecheader\b|\bstorecopy\b|\btlsconfig\b|\bjwtkey\b|\bstoretest\b|\bwsfeed\b|\bredisstore\b|\bclientip\b|\bapp\.[A-Z]|\bcmd/fortapi\b|\binternal/`)
	groups := map[string]string{"user": userHelp, "keys": keysHelp, "apikey": apikeyHelp}
	for _, path := range commandPaths(t) {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := helpOf(t, path)
			if !strings.HasPrefix(out, "Usage: fortapi "+name) {
				t.Errorf("the help does not start with its usage line:\n%s", out)
			}
			if g, ok := groups[path[0]]; ok && len(path) > 1 && strings.Contains(out, strings.TrimSpace(strings.Split(g, "\n")[0])) {
				t.Errorf("fortapi %s --help shows the text of the %s group:\n%s", name, path[0], out)
			}
			for _, heading := range regexp.MustCompile(`(?m)^Flags.*:\n(.*)`).FindAllStringSubmatch(out, -1) {
				if !strings.HasPrefix(heading[1], "  --") {
					t.Errorf("a Flags heading without flags:\n%s", out)
				}
			}
			if strings.Contains(out, "Flags") != (len(helpFlags(out)) > 0) {
				t.Errorf("Flags heading and flag list disagree:\n%s", out)
			}
			// scan's check categories are names users type (--checks authn).
			if m := internal.FindString(strings.ReplaceAll(out, strings.Join(scan.Categories(), ", "), "")); m != "" {
				t.Errorf("the help names %q, an internal package:\n%s", m, out)
			}
			if regexp.MustCompile(`(?m) $`).MatchString(out) {
				t.Errorf("a line ends with a space:\n%q", out)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"user", "--help"}, {"keys", "help"}, {"store", "-h"}} {
		code, out, _ := runCmd(t, args, nil)
		if code != exitOK || out == "" {
			t.Errorf("%v: exit %d", args, code)
		}
		if m := internal.FindString(out); m != "" {
			t.Errorf("%v names %q, an internal package", args, m)
		}
	}
	// fortapi help COMMAND is COMMAND --help.
	if _, out, _ := runCmd(t, []string{"help", "user", "add"}, nil); out != helpOf(t, []string{"user", "add"}) {
		t.Errorf("fortapi help user add differs from fortapi user add --help:\n%s", out)
	}
}

// TestExitCodes pins the documented exit status: 0 success, 1 failure,
// 2 usage error.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	if !strings.Contains(usage, "Exit status: 0 success, 1 the command ran and failed, 2 usage error") {
		t.Error("the usage text does not document the exit status")
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"user"}, exitUsage}, // the group's help, on stderr
		{[]string{"user", "frobnicate"}, exitUsage},
		{[]string{"keys"}, exitUsage},
		{[]string{"store"}, exitUsage},
		{[]string{"help", "frobnicate"}, exitUsage},
		{[]string{"keys", "revoke", "--data-dir", dir}, exitUsage},
		{[]string{"serve", "--env", "staging"}, exitUsage},
		{[]string{"user", "add", "bob", "--data-dir", dir}, exitUsage}, // no --password-stdin
		{[]string{"user", "list", "--data-dir", dir}, exitError},       // no database there
		{[]string{"help", "serve"}, exitOK},
		{[]string{"version"}, exitOK},
	} {
		code, out, errOut := runCmd(t, tt.args, nil)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (%q)", tt.args, code, tt.code, errOut)
		}
		if code == exitUsage && (out != "" || errOut == "") {
			t.Errorf("%v: a usage error writes to stderr only: stdout %q, stderr %q", tt.args, out, errOut)
		}
	}
}

// TestUsageErrorsNameNoPackage: the one-line reasons of bad values say
// what is wrong, not which package of the module noticed.
func TestUsageErrorsNameNoPackage(t *testing.T) {
	t.Parallel()
	pkg := regexp.MustCompile(`\b(ratelimit|clientip|redisstore|secheader|tlsconfig|jwtkey|secret|authn|httpapi|app): `)
	for _, args := range [][]string{
		{"serve", "--rate-writes", "60/fortnight"},
		{"serve", "--rate-global", "1000/second", "--rate-scale", "10000"},
		{"serve", "--trusted-proxies", "10.0.0.0/33"},
		{"serve", "--client-ip-header", "X-Client-IP"},
		{"serve", "--rate-fail", "maybe"},
		{"serve", "--redis-url", "http://localhost:6379"},
	} {
		code, _, errOut := runCmd(t, args, nil)
		if code != exitUsage || pkg.MatchString(errOut) {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}
