package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

const apikeyHelp = `Manages users' API keys in the database of --data-dir (or --postgres-url), also while the
server runs: a revoked key is refused by every instance from its next request.
create and revoke need the master key (FORTAPI_MASTER_KEY, FORTAPI_MASTER_KEY_FILE,
or DATA-DIR/secrets/master.key).

  apikey create USER --name NAME --scopes SCOPE,... [--expires-in DURATION] [--allow-cidr CIDR,...]
                          prints the key (fak_...) on stdout, once: only its hash is
                          stored. --scopes (a subset of the user's role's scopes) is
                          read only from the command line, since it grants privileges
  apikey list USER        id, name, scopes, networks, times (never the keys)
  apikey revoke USER ID   the key stops working at once

Run "fortapi apikey SUBCOMMAND --help" for a subcommand's flags.
`

// apikeyFooter ends the help of every apikey subcommand.
const apikeyFooter = `
It works on the database of --data-dir (or --postgres-url), also while the
server runs: a revoked key is refused by every instance from its next request.
`

// apikeySubHelp is the help of each apikey subcommand.
var apikeySubHelp = map[string]string{
	"create": `Creates an API key for the user USER and prints it (fak_...) on stdout, once:
only its hash is stored. --scopes (a subset of the user's role's scopes) is
read only from the command line, since it grants privileges. Needs the master
key (FORTAPI_MASTER_KEY, FORTAPI_MASTER_KEY_FILE, or DATA-DIR/secrets/master.key).
`,
	"list": `Lists the API keys of the user USER: id, name, scopes, networks and times
(never the keys).
`,
	"revoke": `Revokes the API key ID of the user USER: it stops working at once. Needs the
master key (FORTAPI_MASTER_KEY, FORTAPI_MASTER_KEY_FILE, or
DATA-DIR/secrets/master.key).
`,
}

func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, done := groupHelp(args, apikeyHelp, stdout, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	c := newCommand("apikey "+sub, apikeySubHelp[sub]+apikeyFooter)
	sf := addStoreFlags(c, "`DIR` holding the database (and the generated master key)")
	var names []string
	var name, scopes, cidrs *string
	var expiresIn *time.Duration
	switch sub {
	case "create":
		names, c.args = []string{"USER"}, " USER"
		name = c.fs.String("name", "", "`NAME` of the key, for its owner (required)")
		scopes = c.fs.String("scopes", "", "`SCOPES` the key grants, comma-separated (required; a subset of the user's role's scopes); read only from the command line")
		c.commandLineOnly("scopes")
		expiresIn = c.fs.Duration("expires-in", 0, "the key stops working after `DURATION` (720h: 30 days); 0: never")
		cidrs = c.fs.String("allow-cidr", "", "`CIDRS` the key may be used from, comma-separated (203.0.113.0/24,2001:db8::/32); empty: any")
	case "list":
		names, c.args = []string{"USER"}, " USER"
	case "revoke":
		names, c.args = []string{"USER", "ID"}, " USER ID"
	default:
		fmt.Fprintf(stderr, "fortapi apikey: unknown subcommand %q (create, list, revoke)\n", sub)
		return exitUsage
	}
	pos, code, ok := c.parseArgs(rest, names, getenv, stdout, stderr)
	if !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "fortapi apikey %s: %v\n", sub, err)
		return code
	}
	if _, err := sf.resolve(c, getenv); err != nil {
		return fail(exitUsage, err)
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	}
	if sub == "create" {
		switch {
		case *name == "":
			return fail(exitUsage, errors.New("--name is required"))
		case len(split(*scopes)) == 0:
			return fail(exitUsage, errors.New("--scopes is required (for example --scopes items:read)"))
		case *expiresIn < 0:
			return fail(exitUsage, errors.New("--expires-in must not be negative"))
		}
	}
	env, err := openAdmin(ctx, sf, getenv, false, sub != "list")
	if err != nil {
		return fail(exitError, err)
	}
	defer env.close()
	u, err := env.store.GetUserByName(ctx, pos[0])
	if errors.Is(err, server.ErrNotFound) {
		return fail(exitError, fmt.Errorf("no user %q", pos[0]))
	}
	if err != nil {
		return fail(exitError, err)
	}
	switch sub {
	case "create":
		in := authn.NewAPIKey{Name: *name, Scopes: split(*scopes), AllowedCIDRs: split(*cidrs)}
		if *expiresIn > 0 {
			in.ExpiresAt = time.Now().Add(*expiresIn)
		}
		// The CLI acts for the user with the scopes of its role.
		p := &fortapi.Principal{Subject: u.ID, Scopes: u.Role.Scopes()}
		key, k, err := env.app.Auth().CreateAPIKey(ctx, p, in, "")
		var se *authn.APIKeyScopeError
		var ie *authn.APIKeyInputError
		switch {
		case errors.As(err, &se):
			return fail(exitUsage, fmt.Errorf("the role %s of %s does not grant the scope %q", u.Role, server.EscapeUsername(u.Username), se.Scope))
		case errors.As(err, &ie):
			return fail(exitUsage, fmt.Errorf("--%s: %s", map[string]string{"name": "name", "scopes": "scopes", "expires_at": "expires-in", "allowed_cidrs": "allow-cidr"}[ie.Field], ie.Reason))
		case err != nil:
			return fail(exitError, err)
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "API key %s for %s (%s) created; it is shown only now: store it in a secret manager\n",
			k.ID, server.EscapeUsername(u.Username), strings.Join(k.Scopes, " "))
	case "revoke":
		err := env.app.Auth().RevokeAPIKey(ctx, u.ID, pos[1], "cli")
		if errors.Is(err, server.ErrNotFound) {
			return fail(exitError, fmt.Errorf("user %q has no API key %q (see fortapi apikey list)", pos[0], pos[1]))
		}
		if err != nil {
			return fail(exitError, err)
		}
		fmt.Fprintf(stdout, "API key %s of %s revoked\n", pos[1], server.EscapeUsername(u.Username))
	case "list":
		keys, err := env.store.ListAPIKeys(ctx, u.ID)
		if err != nil {
			return fail(exitError, err)
		}
		ts := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format(time.RFC3339)
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tNETWORKS\tCREATED\tEXPIRES\tLAST USED")
		for _, k := range keys {
			nets := strings.Join(k.AllowedCIDRs, ",")
			if nets == "" {
				nets = "any"
			}
			fmt.Fprintf(tw, "%s\t%q\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), nets,
				ts(k.CreatedAt), ts(k.ExpiresAt), ts(k.LastUsedAt))
		}
		tw.Flush()
	}
	return exitOK
}
