package main

import (
	"bytes"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestSetGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      int
		log       string
	}{
		{"default", "", serveGCPercent, "GOGC=400"},
		{"GOGC set", "50", 100, `"gogc":"50"`}, // the runtime applied it; left alone
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := debug.SetGCPercent(100)
			var buf bytes.Buffer
			setGCPercent(func(k string) string {
				if k == "GOGC" {
					return tc.env
				}
				return ""
			}, slog.New(slog.NewJSONHandler(&buf, nil)))
			got := debug.SetGCPercent(prev)
			if got != tc.want || !strings.Contains(buf.String(), tc.log) {
				t.Errorf("GC percent %d, log %q; want %d and %q", got, buf.String(), tc.want, tc.log)
			}
		})
	}
}

func TestSampleHeap(t *testing.T) {
	prev := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = prev }()
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{false, 0}, {true, defaultMemProfileRate}} {
		runtime.MemProfileRate = 0 // as main sets it
		sampleHeap(tc.pprof)
		if runtime.MemProfileRate != tc.want {
			t.Errorf("--admin-pprof=%v: MemProfileRate %d, want %d", tc.pprof, runtime.MemProfileRate, tc.want)
		}
	}
}
