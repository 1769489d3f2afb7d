package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // bad flags, arguments or environment values
)

const usage = `fortapi — a secure HTTP API server and toolkit

Usage:
  fortapi serve [flags]                         run the API server (HTTPS by default)
  fortapi user add NAME --role ROLE --password-stdin
  fortapi user set-password NAME --password-stdin
                                                reset a password (revokes the user's sessions)
  fortapi user set-role NAME ROLE               change a role (revokes the user's tokens)
  fortapi user disable NAME                     disable a user (revokes the user's tokens)
  fortapi user enable NAME
  fortapi user list
  fortapi keys list|rotate                      signing keys
  fortapi keys revoke KID                       emergency: stop trusting a key now
  fortapi apikey create|list|revoke USER ...    users' API keys (fortapi apikey --help)
  fortapi store copy --from STORE --to STORE    move an installation to an empty store
                                                (STORE: sqlite:PATH or postgres:URL)
  fortapi hash-password                         argon2id hash of the password on stdin
  fortapi openapi                               print the OpenAPI 3.1 document
  fortapi version                               print the version (also fortapi --version)
  fortapi scan URL [flags]                      audit an HTTP API from the outside (docs/scan.md)
  fortapi audit export --since T                the security event log as JSON lines (SIEM)
  fortapi help COMMAND                          a command's help, as fortapi COMMAND --help

The user and keys commands work on the same --data-dir (or --postgres-url)
as the server, also while it runs; the server sees their changes within
seconds.

Run "fortapi COMMAND --help" for a command's flags. Every flag can also be
set through an environment variable: --data-dir is FORTAPI_DATA_DIR. Flags
that grant privileges (user add --role) are the exception: they are read
only from the command line, so that a stray FORTAPI_ROLE=admin cannot turn
a command into an administrator's creation.

Exit status: 0 success, 1 the command ran and failed, 2 usage error (a bad
command, flag, argument or environment value; a one-line reason on stderr).
`

// run is the whole program: main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "openapi":
		return runOpenAPI(rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "store":
		return runStore(ctx, rest, getenv, stdout, stderr)
	case "hash-password":
		return runHashPassword(ctx, rest, getenv, stdin, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(rest, getenv, stdout, stderr)
	case "scan":
		return runScan(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, getenv, stdout, stderr, time.Now)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && cmd == "help" {
			// fortapi help user add = fortapi user add --help
			return run(ctx, append(slices.Clone(rest), "--help"), getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "fortapi: unknown command %q (commands: %s; see fortapi --help)\n", cmd, strings.Join(commandNames, ", "))
		return exitUsage
	}
}

// commandNames are the commands run knows, for messages.
var commandNames = []string{"serve", "user", "keys", "apikey", "store", "scan", "hash-password", "openapi", "version", "help"}

// flagError is the flag package's parse error spelled as the docs spell
// flags: "--name", where the package writes "-name".
func flagError(err error) string {
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if name, ok := strings.CutPrefix(msg, p); ok {
			return p + "-" + name
		}
	}
	for _, p := range []string{"invalid value ", "invalid boolean value "} {
		rest, ok := strings.CutPrefix(msg, p)
		if !ok {
			continue
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			break
		}
		for _, f := range []string{" for flag -", " for -"} {
			if tail, ok := strings.CutPrefix(rest[len(q):], f); ok {
				return p + q + " for --" + tail
			}
		}
	}
	return msg
}

// command is a subcommand's flag set, with environment fallbacks.
type command struct {
	name string
	fs   *flag.FlagSet
	help string
	args string // positional arguments for the usage line (" NAME ROLE")
	// cmdLineOnly are the flags never read from the environment: those
	// that grant privileges, which a stray generic variable (FORTAPI_ROLE)
	// must not set without anyone noticing.
	cmdLineOnly map[string]bool
	// onCmdLine are the flags the last parse found on the command line
	// (not filled from the environment).
	onCmdLine map[string]bool
}

func newCommand(name, help string) *command {
	fs := flag.NewFlagSet("fortapi "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, fs: fs, help: help}
}

// commandLineOnly marks a flag that grants privileges: it is taken only
// from the command line, never from its environment variable (which, when
// set, gets a note on stderr saying it is ignored).
func (c *command) commandLineOnly(name string) {
	if c.cmdLineOnly == nil {
		c.cmdLineOnly = map[string]bool{}
	}
	c.cmdLineOnly[name] = true
}

// envName is the environment variable of a flag: data-dir → FORTAPI_DATA_DIR.
func envName(flagName string) string {
	return "FORTAPI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads args, then fills every flag not given on the command line
// from its environment variable. It returns an exit code and false when the
// command must stop (help shown, or a one-line error written).
func (c *command) parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (int, bool) {
	_, code, ok := c.parseArgs(args, nil, getenv, stdout, stderr)
	return code, ok
}

// parseArgs is parse for commands that take positional arguments, named
// by names (for messages); flags may come before, between or after them.
func (c *command) parseArgs(args, names []string, getenv func(string) string, stdout, stderr io.Writer) ([]string, int, bool) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(stdout)
				return nil, exitOK, false
			}
			fmt.Fprintf(stderr, "%s: %s (see --help)\n", c.fs.Name(), flagError(err))
			return nil, exitUsage, false
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if len(pos) > len(names) {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see --help)\n", c.fs.Name(), pos[len(names)])
		return nil, exitUsage, false
	}
	if len(pos) < len(names) {
		fmt.Fprintf(stderr, "%s: missing %s (see --help)\n", c.fs.Name(), names[len(pos)])
		return nil, exitUsage, false
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.onCmdLine = set
	var bad error
	c.fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || bad != nil {
			return
		}
		if c.cmdLineOnly[f.Name] {
			if getenv(envName(f.Name)) != "" {
				fmt.Fprintf(stderr, "%s: ignoring %s: --%s grants privileges and is read only from the command line\n", c.fs.Name(), envName(f.Name), f.Name)
			}
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := c.fs.Set(f.Name, v); err != nil {
				bad = fmt.Errorf("invalid value %q for %s: %v", v, envName(f.Name), err)
			}
		}
	})
	if bad != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.fs.Name(), bad)
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

func (c *command) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s%s", c.fs.Name(), c.args)
	n := 0
	c.fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, " [flags]")
	}
	fmt.Fprintf(w, "\n\n%s", strings.TrimRight(c.help, "\n")+"\n")
	if n == 0 {
		return // no empty "Flags:" heading
	}
	fmt.Fprint(w, "\nFlags (each also as the environment variable shown):\n")
	c.fs.VisitAll(func(f *flag.Flag) {
		writeFlag(w, f)
		if c.cmdLineOnly[f.Name] {
			fmt.Fprint(w, " [command line only]\n")
			return
		}
		fmt.Fprintf(w, " [%s]\n", envName(f.Name))
	})
}

// writeFlag writes a flag's help entry, without its environment variable
// or line end: "  --name VALUE\n    \tusage (default ...)".
func writeFlag(w io.Writer, f *flag.Flag) {
	name, u := flag.UnquoteUsage(f)
	if name != "" {
		name = " " + name
	}
	fmt.Fprintf(w, "  --%s%s\n    \t%s", f.Name, name, u)
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
		fmt.Fprintf(w, " (default %q)", f.DefValue)
	}
}

// version is the version of this binary: its module version when built by
// go install (v1.2.3), else the VCS revision go build stamped into it
// (devel-0123456789ab, +dirty for a modified tree), else "(devel)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	return versionOf(bi, ok)
}

func versionOf(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "(devel)"
	}
	return "devel-" + rev[:min(len(rev), 12)] + dirty
}

func runVersion(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("version", "Prints the version of this binary (also fortapi --version), the Go release it was\nbuilt with, and the platform.\n")
	if code, ok := c.parse(args, getenv, stdout, stderr); !ok {
		return code
	}
	fmt.Fprintf(stdout, "fortapi %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
