// Command fortapi runs the fortapi reference server and its tools.
//
// See the README and DESIGN for subcommands and flags; every flag can also
// be set through an environment variable (--data-dir = FORTAPI_DATA_DIR).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
