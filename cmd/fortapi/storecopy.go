package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/server/storecopy"
)

// The environment variables of `store copy`, each with its _FILE variant.
// They are named after the command and the flag (FORTAPI_STORE_COPY_FROM
// is --from of `store copy`) rather than FORTAPI_FROM: a variable that may
// hold a database password should say which command reads it.
const (
	storeCopyFromEnv = "FORTAPI_STORE_COPY_FROM"
	storeCopyToEnv   = "FORTAPI_STORE_COPY_TO"
)

const storeHelp = `Moves an installation from one store to another.

  store copy --from sqlite:PATH|postgres:URL --to sqlite:PATH|postgres:URL

Run "fortapi store copy --help" for the details.
`

const storeCopyHelp = `Usage: fortapi store copy --from STORE --to STORE

Copies an installation from one store to another, empty one: users (with
their password hashes), signing keys (still sealed with the master key),
items, the audit log (in order) and the revocations still in force. Stop the
server first. Sessions, refresh tokens and web sessions are not copied:
everybody logs in again (access tokens already issued keep working until
they expire, 15 minutes at most). Start the server on the target with the
same master key (FORTAPI_MASTER_KEY or FORTAPI_MASTER_KEY_FILE; a
development data dir keeps it in DATA-DIR/secrets/master.key).

STORE is one of
  sqlite:PATH      the SQLite database file, or a data dir holding fortapi.db;
                   a target that does not exist is created
  postgres:URL     a PostgreSQL URL (postgres://USER@HOST:PORT/DB?search_path=SCHEMA)
                   or keyword/value string; postgres://... alone works too

Flags:
  --from STORE     the store to copy [$FORTAPI_STORE_COPY_FROM or $FORTAPI_STORE_COPY_FROM_FILE]
  --to STORE       the empty store to copy into [$FORTAPI_STORE_COPY_TO or $FORTAPI_STORE_COPY_TO_FILE]

A URL with a password is refused on the command line (it would show in ps
and the shell history): give it in the variable, or better in a file named
by the _FILE variable, or let the driver find the password in PGPASSWORD or
~/.pgpass. The password is never printed.

A target that holds anything (users, items, keys, events) is refused and
left as it is. The copy writes row by row; if it fails half-way, a SQLite
target it created is deleted again, and any other target is reported as
holding a partial copy, to be emptied before copying again. Exit status: 0
copied, 1 failed, 2 bad flags or environment.
`

func runStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, done := groupHelp(args, storeHelp, stdout, stderr); done {
		return code
	}
	if args[0] != "copy" {
		fmt.Fprintf(stderr, "fortapi store: unknown subcommand %q (copy)\n", args[0])
		return exitUsage
	}
	return runStoreCopy(ctx, args[1:], getenv, stdout, stderr)
}

// storeSpec is one side of a copy.
type storeSpec struct {
	name    string // "--from" or "--to", for messages
	sqlite  string // the database file (absolute), or ""
	pgURL   string // the PostgreSQL URL or connection string, or ""
	secrets []string
}

// String describes the store for messages, without any password.
func (s storeSpec) String() string {
	if s.sqlite != "" {
		return "sqlite:" + s.sqlite
	}
	cfg, err := pgconn.ParseConfig(s.pgURL)
	if err != nil {
		return "postgres: (a connection string that does not parse)"
	}
	host := cfg.Host
	if !strings.HasPrefix(host, "/") {
		host = fmt.Sprintf("%s:%d", host, cfg.Port)
	}
	d := fmt.Sprintf("postgres: database %q on %s as user %q", cfg.Database, host, cfg.User)
	if sp := cfg.RuntimeParams["search_path"]; sp != "" {
		d += fmt.Sprintf(", search_path %q", sp)
	}
	return d
}

// usageError is a problem with the flags or the environment: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func runStoreCopy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	const name = "fortapi store copy"
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fromFlag := fset.String("from", "", "")
	toFlag := fset.String("to", "", "")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, storeCopyHelp)
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: %s (see --help)\n", name, flagError(err))
		return exitUsage
	}
	if fset.NArg() > 0 {
		// Not quoted: it could be a URL with a password.
		fmt.Fprintf(stderr, "%s: unexpected argument: give the stores with --from and --to (see --help)\n", name)
		return exitUsage
	}
	from, err := resolveStore("--from", *fromFlag, storeCopyFromEnv, getenv, stderr)
	if err == nil {
		var to storeSpec
		to, err = resolveStore("--to", *toFlag, storeCopyToEnv, getenv, stderr)
		if err == nil {
			if from.sqlite != "" && from.sqlite == to.sqlite || from.pgURL != "" && from.pgURL == to.pgURL {
				err = usageError{"--from and --to name the same store"}
			} else {
				return copyStores(ctx, from, to, stdout, stderr)
			}
		}
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return exitUsage
}

// resolveStore reads one side from its flag or, when the flag is not
// given, from its environment variable or the file its _FILE variable
// names. A password on the command line is refused.
func resolveStore(flagName, flagValue, env string, getenv func(string) string, stderr io.Writer) (storeSpec, error) {
	spec := storeSpec{name: flagName}
	raw, where := flagValue, flagName
	if raw != "" {
		if hasPassword(raw) {
			return spec, usageError{fmt.Sprintf("%s holds a password, which is refused on the command line (ps and the shell history show it): set $%s, or $%s%s to a file holding the URL, or leave the password to PGPASSWORD or ~/.pgpass",
				flagName, env, env, secret.FileSuffix)}
		}
	} else {
		l, err := secret.FromEnv(getenv, env)
		if errors.Is(err, secret.ErrNotSet) {
			return spec, usageError{fmt.Sprintf("missing %s (or $%s, $%s%s): want sqlite:PATH or postgres:URL", flagName, env, env, secret.FileSuffix)}
		}
		if err != nil {
			return spec, usageError{err.Error()} // names the variables and the path, never the value
		}
		for _, w := range l.Warnings {
			fmt.Fprintf(stderr, "fortapi store copy: warning: %s\n", w)
		}
		raw, where = strings.TrimSpace(l.Secret.RevealString()), l.Source
	}
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		p := strings.TrimPrefix(raw, "sqlite:")
		if p == "" {
			return spec, usageError{fmt.Sprintf("%s: sqlite: needs a PATH", where)}
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return spec, usageError{fmt.Sprintf("%s: %v", where, err)}
		}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			abs = filepath.Join(abs, "fortapi.db") // a data dir
		}
		spec.sqlite = abs
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		spec.pgURL = raw
	case strings.HasPrefix(raw, "postgres:"):
		spec.pgURL = strings.TrimPrefix(raw, "postgres:")
		if spec.pgURL == "" {
			return spec, usageError{fmt.Sprintf("%s: postgres: needs a URL", where)}
		}
	default:
		if where == flagName { // from the command line: no password in it
			return spec, usageError{fmt.Sprintf("invalid %s %q: want sqlite:PATH or postgres:URL", flagName, raw)}
		}
		return spec, usageError{fmt.Sprintf("invalid %s: want sqlite:PATH or postgres:URL", where)}
	}
	spec.secrets = passwords(spec.pgURL)
	return spec, nil
}

// kvPassword finds a password in a keyword/value connection string.
var kvPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// postgresURL returns the URL in raw (which may start with "postgres:"),
// and whether it is in URL form.
func postgresURL(raw string) (string, bool) {
	if rest, ok := strings.CutPrefix(raw, "postgres:"); ok && !strings.HasPrefix(rest, "//") {
		raw = rest
	}
	return raw, strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://")
}

// hasPassword reports whether a --from or --to value carries a password,
// in any form PostgreSQL accepts (the user info of a URL, its password
// parameter, a keyword/value password=) or in the user info of any other
// URL (a mistyped scheme), erring on the side of yes.
func hasPassword(raw string) bool {
	if strings.HasPrefix(raw, "sqlite:") {
		return false
	}
	s, _ := postgresURL(raw)
	if !strings.Contains(s, "://") {
		return strings.Contains(strings.ToLower(s), "password")
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable: a password may still be in it.
		return strings.Contains(strings.ToLower(s), "password") || strings.Contains(s, "@")
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return true
		}
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "password") {
			return true
		}
	}
	return false
}

// passwords returns the passwords in a PostgreSQL URL or connection
// string, in the forms a message could show them, for redaction.
func passwords(raw string) []string {
	if raw == "" {
		return nil
	}
	var pws []string
	s, isURL := postgresURL(raw)
	if isURL {
		if u, err := url.Parse(s); err == nil {
			if u.User != nil {
				if pw, ok := u.User.Password(); ok {
					pws = append(pws, pw)
				}
			}
			for k, vs := range u.Query() {
				if strings.EqualFold(k, "password") {
					pws = append(pws, vs...)
				}
			}
		}
	} else {
		for _, m := range kvPassword.FindAllStringSubmatch(s, -1) {
			pw := strings.Trim(m[1], "'")
			pws = append(pws, pw, strings.ReplaceAll(pw, `\'`, `'`))
		}
	}
	var out []string
	for _, pw := range pws {
		if pw != "" {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	return out
}

// redact replaces every password of the stores in msg.
func redact(msg string, specs ...storeSpec) string {
	for _, s := range specs {
		for _, pw := range s.secrets {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// openStore opens one side. A source must exist; a SQLite target that does
// not is created (created reports it).
func openStore(ctx context.Context, s storeSpec, target bool) (st server.Store, created bool, err error) {
	if s.pgURL != "" {
		st, err := postgres.Open(ctx, postgres.Options{URL: s.pgURL})
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", s.name, err) // err describes the database
		}
		return st, false, nil
	}
	if _, err := os.Stat(s.sqlite); errors.Is(err, fs.ErrNotExist) {
		if !target {
			return nil, false, fmt.Errorf("no database at %s: check --from", s.sqlite)
		}
		if err := os.MkdirAll(filepath.Dir(s.sqlite), 0o700); err != nil {
			return nil, false, fmt.Errorf("creating the directory of %s: %w", s.sqlite, err)
		}
		f, err := os.OpenFile(s.sqlite, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("creating %s: %w", s.sqlite, err)
		}
		f.Close()
		created = true
	}
	sst, err := sqlite.Open(ctx, s.sqlite, sqlite.Options{})
	if err != nil {
		if created {
			removeSQLite(s.sqlite)
		}
		return nil, false, fmt.Errorf("opening %s: %w", s, err)
	}
	return sst, created, nil
}

// removeSQLite deletes a database file and its companions.
func removeSQLite(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func copyStores(ctx context.Context, from, to storeSpec, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fortapi store copy: %s\n", redact(fmt.Sprintf(format, a...), from, to))
		return exitError
	}
	src, _, err := openStore(ctx, from, false)
	if err != nil {
		return fail("%v", err)
	}
	defer src.Close()
	dst, created, err := openStore(ctx, to, true)
	if err != nil {
		return fail("%v", err)
	}
	closeDst := func() error {
		if dst == nil {
			return nil
		}
		err := dst.Close()
		dst = nil
		return err
	}
	defer closeDst()

	var opts storecopy.Options
	var line *progressLine
	if isTerminal(stderr) {
		line = &progressLine{w: stderr, now: time.Now}
		opts.Progress = line.update
	}
	stats, err := storecopy.Copy(ctx, src, dst, opts)
	line.clear()
	switch {
	case errors.Is(err, storecopy.ErrTargetNotEmpty):
		return fail("%v\n  %s is left as it was. Copy into an empty store: a new SQLite file, or a new PostgreSQL database or schema (search_path=SCHEMA in the URL).", err, to)
	case err != nil:
		fail("%v", err)
		if stats.Total() == 0 {
			return fail("nothing was written to %s.", to)
		}
		written := fmt.Sprintf("%d revocations, %d users, %d API keys, %d keys, %d items and %d events", stats.Revocations, stats.Users, stats.APIKeys, stats.Keys, stats.Items, stats.Events)
		if created {
			cerr := closeDst()
			if rerr := removeSQLite(to.sqlite); cerr != nil || rerr != nil {
				return fail("the copy stopped after writing %s to %s, which this command created, and deleting it failed (%v): delete it before copying again.", written, to, errors.Join(cerr, rerr))
			}
			return fail("the copy stopped after writing %s; %s, which this command had created, is deleted again. Fix the cause and run the command again.", written, to)
		}
		return fail("the copy stopped after writing %s: %s now holds a partial copy and must not be used. Empty it (PostgreSQL: drop and recreate the schema or database; SQLite: delete the file) and run the command again (it refuses a store that is not empty).", written, to)
	}
	if err := closeDst(); err != nil {
		return fail("closing %s after the copy: %v (the copy may not be complete on disk)", to, err)
	}
	if stats.Total() == 0 {
		fmt.Fprintf(stderr, "fortapi store copy: warning: %s holds nothing to copy (no users, keys, items or events): check --from\n", redact(from.String(), from))
	}
	w := &strings.Builder{}
	fmt.Fprintf(w, "copied %s\n    to %s\n", from, to)
	fmt.Fprintf(w, "  users             %d\n", stats.Users)
	fmt.Fprintf(w, "  API keys          %d (those still working; same master key needed)\n", stats.APIKeys)
	fmt.Fprintf(w, "  signing keys      %d\n", stats.Keys)
	fmt.Fprintf(w, "  items             %d\n", stats.Items)
	fmt.Fprintf(w, "  audit events      %d (in their order; ids renumbered)\n", stats.Events)
	fmt.Fprintf(w, "  live revocations  %d\n", stats.Revocations)
	fmt.Fprintf(w, "Not copied: sessions, refresh tokens and web sessions. Everybody logs in again;\n")
	fmt.Fprintf(w, "access tokens already issued keep working until they expire (%d minutes at most).\n", int(app.DefaultAccessLifetime.Minutes()))
	fmt.Fprintf(w, "The signing keys are still sealed with the source's master key: start the server\n")
	fmt.Fprintf(w, "on the target with the same FORTAPI_MASTER_KEY or FORTAPI_MASTER_KEY_FILE\n")
	fmt.Fprintf(w, "(a development data dir keeps it in DATA-DIR/secrets/master.key).\n")
	fmt.Fprint(stdout, redact(w.String(), from, to))
	return exitOK
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine keeps one line on a terminal up to date, at most ten times
// a second.
type progressLine struct {
	w     io.Writer
	now   func() time.Time
	last  time.Time
	wrote bool
}

func (p *progressLine) update(pr storecopy.Progress) {
	if t := p.now(); pr.Phase == storecopy.PhaseDone || t.Sub(p.last) >= 100*time.Millisecond {
		p.last = t
		fmt.Fprintf(p.w, "\r\x1b[K%s", progressText(pr))
		p.wrote = true
	}
}

// clear removes the line (nil-safe).
func (p *progressLine) clear() {
	if p != nil && p.wrote {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func progressText(pr storecopy.Progress) string {
	s := pr.Stats
	events := fmt.Sprint(s.Events)
	if pr.EventsTotal > 0 {
		events = fmt.Sprintf("%d of %d", s.Events, pr.EventsTotal)
	}
	what := "copying " + string(pr.Phase)
	switch pr.Phase {
	case storecopy.PhaseCheck:
		what = "checking that the target is empty"
	case storecopy.PhaseDone:
		what = "copied"
	}
	return fmt.Sprintf("%s: %d revocations, %d users, %d keys, %d items, %s events",
		what, s.Revocations, s.Users, s.Keys, s.Items, events)
}
