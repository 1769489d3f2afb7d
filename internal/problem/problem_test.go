package problem

import (
	"context"
	"testing"
)

type (
	otherKey struct{}
	layerKey struct{}
)

func TestRequestIDThroughDerivedContexts(t *testing.T) {
	base := context.WithValue(context.Background(), otherKey{}, "v")
	if got := RequestID(base); got != "" {
		t.Fatalf("no id: got %q", got)
	}
	// Both ways of attaching an id, and contexts derived from them.
	for name, ctx := range map[string]context.Context{
		"WithRequestID": WithRequestID(base, "req-1"),
		"IDContext":     &IDContext{Context: base, ID: "req-1"},
	} {
		t.Run(name, func(t *testing.T) {
			derived, cancel := context.WithCancel(context.WithValue(ctx, layerKey{}, 1))
			defer cancel()
			for _, c := range []context.Context{ctx, derived} {
				if got := RequestID(c); got != "req-1" {
					t.Errorf("RequestID = %q", got)
				}
				if got := c.Value(otherKey{}); got != "v" {
					t.Errorf("the parent's value: %v", got)
				}
			}
			// Cancelling the parent still reaches the derived context.
			pctx, pcancel := context.WithCancel(base)
			child, ccancel := context.WithCancel(&IDContext{Context: pctx, ID: "x"})
			defer ccancel()
			pcancel()
			<-child.Done()
		})
	}
}
