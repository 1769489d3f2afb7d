// Package accesslog is the access-log line fortapi's front door writes
// for every request: the message "request" at INFO with eight attributes
// in a fixed order, and the interface through which a slog.Handler may
// write it without building an slog.Record (no attribute slice to
// allocate, no walk over the attributes by each handler in the chain).
//
// A handler that implements Handler must write exactly what its Handle
// writes for Line.Record(); a handler that does not is given the record.
// Handle picks. The redacting handler of package secret and the JSON
// handler of internal/jsonlog implement it, and their tests hold them to
// their Handle's bytes.
package accesslog

import (
	"context"
	"log/slog"
	"time"
)

// Message is the line's message; Level its level.
const (
	Message = "request"
	Level   = slog.LevelInfo
)

// The attribute keys, in the order of the line.
const (
	KeyRequestID  = "request_id"
	KeyMethod     = "method"
	KeyPath       = "path"
	KeyStatus     = "status"
	KeyBytes      = "bytes"
	KeyDurationMS = "duration_ms"
	KeyRemote     = "remote"
	KeyProto      = "proto"
)

// Keys returns every attribute key of the line, in order (an array: the
// caller's copy, so no package state can be changed through it).
func Keys() [8]string {
	return [...]string{KeyRequestID, KeyMethod, KeyPath, KeyStatus, KeyBytes, KeyDurationMS, KeyRemote, KeyProto}
}

// Line is one request's access-log line.
type Line struct {
	// Time is the record's time (the request's end).
	Time time.Time
	// RequestID, Method, Path, Remote and Proto are strings from the
	// request; any of them may carry what a client put there.
	RequestID, Method, Path string
	Status                  int
	Bytes                   int64
	DurationMS              float64
	Remote, Proto           string
}

// Record is l as an slog.Record: what a handler without HandleAccess is
// given, and what HandleAccess must write the same bytes as.
func (l Line) Record() slog.Record {
	r := slog.NewRecord(l.Time, Level, Message, 0)
	r.AddAttrs(
		slog.String(KeyRequestID, l.RequestID),
		slog.String(KeyMethod, l.Method),
		slog.String(KeyPath, l.Path),
		slog.Int(KeyStatus, l.Status),
		slog.Int64(KeyBytes, l.Bytes),
		slog.Float64(KeyDurationMS, l.DurationMS),
		slog.String(KeyRemote, l.Remote),
		slog.String(KeyProto, l.Proto),
	)
	return r
}

// Handler is a slog.Handler that can write a Line directly.
// HandleAccess(ctx, l) must have the effect of Handle(ctx, l.Record()),
// byte for byte; like Handle, it is called only when Enabled(ctx, Level)
// is true.
type Handler interface {
	slog.Handler
	HandleAccess(ctx context.Context, l Line) error
}

// Handle writes l through h: by HandleAccess when h implements Handler,
// else by h.Handle(ctx, l.Record()).
func Handle(ctx context.Context, h slog.Handler, l Line) error {
	if a, ok := h.(Handler); ok {
		return a.HandleAccess(ctx, l)
	}
	return h.Handle(ctx, l.Record())
}
