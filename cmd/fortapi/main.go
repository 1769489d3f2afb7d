package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	// Heap allocations are sampled only for the profiles fortapi serve
	// --admin-pprof serves (runServe samples again then, sampleHeap):
	// sampling cost about 1 % of the instructions of GET /protected.
	runtime.MemProfileRate = 0
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
