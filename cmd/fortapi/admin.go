package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
)

// maxPasswordInput is the most read from stdin for a password: the policy's
// 1,024 bytes plus a line ending, and one byte more to detect longer input.
const maxPasswordInput = 1024 + 2 + 1

// readPassword reads one password from r: the first line, without its line
// ending. Empty input and over-long input are errors.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPasswordInput))
	if err != nil {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	switch {
	case len(b) >= maxPasswordInput && len(line) > 1024:
		return "", errors.New("the password on stdin is longer than 1024 bytes")
	case line == "":
		return "", errors.New("no password on stdin (give it on the first line)")
	}
	return line, nil
}

// groupHelp prints the help of a command group (user, keys, store) when
// args ask for help (on stdout, exit 0) or name no subcommand (a usage
// error: on stderr, exit 2); done reports that it did.
func groupHelp(args []string, help string, stdout, stderr io.Writer) (code int, done bool) {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, help)
		return exitUsage, true
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprint(stdout, help)
		return exitOK, true
	}
	return 0, false
}

// adminEnv is what the user and keys commands share: the store and,
// when needed, the whole server composed on it (app), which they use for
// its authentication service and key ring.
type adminEnv struct {
	store app.Store
	app   *app.App // nil without auth
}

// openAdmin opens the store sf selects; create allows a new SQLite
// database. withAuth composes the server on it (which needs the master
// key, never generated here unless create).
func openAdmin(ctx context.Context, sf *storeFlags, getenv func(string) string, create, withAuth bool) (*adminEnv, error) {
	sc, err := storeConfig(sf.dataDir, sf.postgresURL, create)
	if err != nil {
		return nil, err
	}
	sc.SQLiteReadConns = 1
	log := slog.New(slog.DiscardHandler)
	if !withAuth {
		store, err := app.OpenStore(ctx, sc, log, nil)
		if err != nil {
			return nil, err
		}
		return &adminEnv{store: store}, nil
	}
	mk, err := masterKey(sf.dataDir, getenv, log, create)
	if err != nil {
		return nil, err
	}
	defer clear(mk)
	a, err := app.New(ctx, app.Config{Store: sc, MasterKey: mk, Logger: log, Version: version()})
	if err != nil {
		return nil, err
	}
	return &adminEnv{store: a.Store(), app: a}, nil
}

func (e *adminEnv) close() {
	if e.app != nil {
		_ = e.app.Close()
		return
	}
	_ = e.store.Close()
}

const userHelp = `Manages users in the database of --data-dir (or --postgres-url), also while the server runs:
changes that revoke tokens (set-role, disable) take effect in the running
server within a second.

  user add NAME --role user|admin --password-stdin   (password: first line of stdin;
                                                      --role only from the command line)
  user set-password NAME --password-stdin            reset a password (first line of
                                                      stdin); revokes the user's sessions
  user set-role NAME user|admin
  user disable NAME
  user enable NAME
  user list

Run "fortapi user SUBCOMMAND --help" for a subcommand's flags.
`

// userFooter ends the help of every user subcommand.
const userFooter = `
It works on the database of --data-dir (or --postgres-url), also while the
server runs, which applies revocations within a second.
`

// userSubHelp is the help of each user subcommand.
var userSubHelp = map[string]string{
	"add": `Creates the user NAME with the password on the first line of stdin (never
an argument: ps and the shell history would show it). The password policy
applies. NAME is stored in its RFC 8265 form (Bob and ｂｏｂ are bob).
--role is read only from the command line, never from FORTAPI_ROLE: a stray
variable must not create administrators.
`,
	"set-password": `Sets the password of the user NAME from the first line of stdin (the
password policy applies) and revokes every session and token of the user at
once. Also the way back in when the printed admin password is lost.
`,
	"set-role": `Changes the role of the user NAME to ROLE (user or admin) and revokes the
user's sessions and tokens at once. The last administrator cannot be
demoted.
`,
	"disable": `Disables the user NAME: its sessions and tokens are revoked at once and it
cannot sign in until enabled again. The last administrator cannot be
disabled.
`,
	"enable": `Enables the user NAME again (it signs in anew).
`,
	"list": `Lists every user: id, username, role, whether disabled, creation time.
`,
}

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code, done := groupHelp(args, userHelp, stdout, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	c := newCommand("user "+sub, userSubHelp[sub]+userFooter)
	sf := addStoreFlags(c, "`DIR` holding the database (and the generated master key)")
	var names []string
	var role *string
	var pwStdin *bool
	switch sub {
	case "add":
		names, c.args = []string{"NAME"}, " NAME"
		role = c.fs.String("role", "user", "`ROLE` of the new user: user or admin; read only from the command line, never from FORTAPI_ROLE, since it grants privileges")
		c.commandLineOnly("role")
		pwStdin = c.fs.Bool("password-stdin", false, "read the password from the first line of stdin (required)")
	case "set-password":
		names, c.args = []string{"NAME"}, " NAME"
		pwStdin = c.fs.Bool("password-stdin", false, "read the new password from the first line of stdin (required)")
	case "set-role":
		names, c.args = []string{"NAME", "ROLE"}, " NAME ROLE"
	case "disable", "enable":
		names, c.args = []string{"NAME"}, " NAME"
	case "list":
	default:
		fmt.Fprintf(stderr, "fortapi user: unknown subcommand %q (add, set-password, set-role, disable, enable, list)\n", sub)
		return exitUsage
	}
	pos, code, ok := c.parseArgs(rest, names, getenv, stdout, stderr)
	if !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "fortapi user %s: %v\n", sub, err)
		return code
	}
	if _, err := sf.resolve(c, getenv); err != nil {
		return fail(exitUsage, err)
	}
	if pwStdin != nil && !*pwStdin {
		return fail(exitUsage, errors.New("--password-stdin is required: passwords are never taken as arguments (they would show in ps and shell history)"))
	}
	var r server.Role
	switch sub {
	case "add":
		var err error
		if r, err = server.ParseRole(*role); err != nil {
			return fail(exitUsage, err)
		}
	case "set-role":
		var err error
		if r, err = server.ParseRole(pos[1]); err != nil {
			return fail(exitUsage, err)
		}
	}
	var pw string
	if pwStdin != nil {
		var err error
		if pw, err = readPassword(stdin); err != nil {
			return fail(exitUsage, err)
		}
	}
	env, err := openAdmin(ctx, sf, getenv, sub == "add", sub != "list")
	if err != nil {
		return fail(exitError, err)
	}
	defer env.close()
	const actor = "cli"
	lookup := func(name string) (server.User, error) {
		u, err := env.store.GetUserByName(ctx, name)
		if errors.Is(err, server.ErrNotFound) {
			return u, fmt.Errorf("no user %q", name)
		}
		return u, err
	}
	switch sub {
	case "add":
		u, err := env.app.Auth().CreateUser(ctx, pos[0], pw, r, actor)
		var pe *password.PolicyError
		var ue *server.UsernameError
		switch {
		case errors.As(err, &ue):
			return fail(exitUsage, err)
		case errors.Is(err, server.ErrConflict):
			if c, cerr := server.CanonicalUsername(pos[0]); cerr == nil && c != pos[0] {
				return fail(exitError, fmt.Errorf("the username %q is taken (it is %q once normalized, RFC 8265)", pos[0], c))
			}
			return fail(exitError, fmt.Errorf("the username %q is taken", pos[0]))
		case errors.As(err, &pe):
			return fail(exitUsage, fmt.Errorf("password refused: %v", pe))
		case err != nil:
			return fail(exitError, err)
		}
		fmt.Fprintf(stdout, "created user %s (%s) with role %s\n", u.Username, u.ID, u.Role)
	case "set-password":
		u, err := lookup(pos[0])
		if err != nil {
			return fail(exitError, err)
		}
		u, err = env.app.Auth().SetPassword(ctx, u.ID, pw, actor)
		var pe *password.PolicyError
		switch {
		case errors.As(err, &pe):
			return fail(exitUsage, fmt.Errorf("password refused: %v", pe))
		case errors.Is(err, server.ErrNotFound):
			return fail(exitError, fmt.Errorf("no user %q", pos[0]))
		case err != nil:
			return fail(exitError, err)
		}
		fmt.Fprintf(stdout, "user %s: password set; its sessions and tokens are revoked\n", u.Username)
	case "set-role", "disable", "enable":
		u, err := lookup(pos[0])
		if err != nil {
			return fail(exitError, err)
		}
		switch sub {
		case "set-role":
			u, err = env.app.Auth().SetRole(ctx, u.ID, r, actor)
		default:
			u, err = env.app.Auth().SetDisabled(ctx, u.ID, sub == "disable", actor)
		}
		if errors.Is(err, server.ErrLastAdmin) {
			return fail(exitError, fmt.Errorf("%v: add or promote another administrator first", err))
		}
		if err != nil {
			return fail(exitError, err)
		}
		fmt.Fprintf(stdout, "user %s: role %s, disabled %v; its sessions and tokens are revoked\n", server.EscapeUsername(u.Username), u.Role, u.Disabled)
	case "list":
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tDISABLED\tCREATED")
		after := ""
		for {
			users, err := env.store.ListUsers(ctx, after, 100)
			if err != nil {
				return fail(exitError, err)
			}
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.ID, server.EscapeUsername(u.Username), u.Role, u.Disabled, u.CreatedAt.Format(time.RFC3339))
			}
			if len(users) < 100 {
				break
			}
			after = users[len(users)-1].ID
		}
		tw.Flush()
	}
	return exitOK
}

const keysHelp = `Manages the token signing keys in the database of --data-dir (or --postgres-url), also while
the server runs (it picks changes up within seconds). Needs the master key
(FORTAPI_MASTER_KEY, FORTAPI_MASTER_KEY_FILE, or DATA-DIR/secrets/master.key).

  keys list          kid, algorithm, state and times of every key
  keys rotate        the next key starts signing; the current one keeps verifying
                     until its tokens expire (nobody is logged out)
  keys revoke KID    emergency: the key stops verifying at once (its tokens are
                     refused); revoking the active key promotes the next one.
                     A kid that starts with '-' goes after --: keys revoke -- -abc

Run "fortapi keys SUBCOMMAND --help" for a subcommand's flags.
`

// keysFooter ends the help of every keys subcommand.
const keysFooter = `
It works on the database of --data-dir (or --postgres-url), also while the
server runs (it picks changes up within seconds), and needs the master key
(FORTAPI_MASTER_KEY, FORTAPI_MASTER_KEY_FILE, or DATA-DIR/secrets/master.key).
`

// keysSubHelp is the help of each keys subcommand.
var keysSubHelp = map[string]string{
	"list": `Lists the token signing keys: kid, algorithm, state (next, active, retiring,
retired, revoked) and the times of each change.
`,
	"rotate": `Rotates the signing keys: the next key starts signing, the current one keeps
verifying until its tokens expire (nobody is logged out). Prints the keys.
`,
	"revoke": `Emergency: the key KID stops verifying at once (its tokens are refused);
revoking the active key promotes the next one. Prints the keys. A kid that
starts with '-' goes after --: fortapi keys revoke -- -abc
`,
}

func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, done := groupHelp(args, keysHelp, stdout, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	c := newCommand("keys "+sub, keysSubHelp[sub]+keysFooter)
	sf := addStoreFlags(c, "`DIR` holding the database (and the generated master key)")
	var names []string
	switch sub {
	case "list", "rotate":
	case "revoke":
		names, c.args = []string{"KID"}, " KID"
	default:
		fmt.Fprintf(stderr, "fortapi keys: unknown subcommand %q (list, rotate, revoke)\n", sub)
		return exitUsage
	}
	pos, code, ok := c.parseArgs(rest, names, getenv, stdout, stderr)
	if !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "fortapi keys %s: %v\n", sub, err)
		return code
	}
	if _, err := sf.resolve(c, getenv); err != nil {
		return fail(exitUsage, err)
	}
	env, err := openAdmin(ctx, sf, getenv, false, true)
	if err != nil {
		return fail(exitError, err)
	}
	defer env.close()
	ring := env.app.Keys()
	switch sub {
	case "rotate":
		if err := env.app.Auth().RotateKeys(ctx, ""); err != nil {
			return fail(exitError, err)
		}
	case "revoke":
		err := env.app.Auth().RevokeKey(ctx, pos[0], "")
		if errors.Is(err, jwtkey.ErrUnknownKey) {
			return fail(exitError, fmt.Errorf("no key %q (see fortapi keys list)", pos[0]))
		}
		if err != nil {
			return fail(exitError, err)
		}
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRING\tRETIRED\tREVOKED")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range ring.Keys() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.State, ts(k.CreatedAt), ts(k.ActivatedAt), ts(k.RetiringAt), ts(k.RetiredAt), ts(k.RevokedAt))
	}
	tw.Flush()
	return exitOK
}

const hashHelp = `Reads a password from the first line of stdin and prints its argon2id hash
(PHC string), for provisioning users from other tools. The password policy is
not applied.
`

func runHashPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("hash-password", hashHelp)
	if code, ok := c.parse(args, getenv, stdout, stderr); !ok {
		return code
	}
	pw, err := readPassword(bufio.NewReader(stdin))
	if err != nil {
		fmt.Fprintf(stderr, "fortapi hash-password: %v\n", err)
		return exitUsage
	}
	h, err := password.NewHasher(password.HasherOptions{})
	if err == nil {
		var enc string
		if enc, err = h.Hash(ctx, pw); err == nil {
			fmt.Fprintln(stdout, enc)
			return exitOK
		}
	}
	fmt.Fprintf(stderr, "fortapi hash-password: %v\n", err)
	return exitError
}
