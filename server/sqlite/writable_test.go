package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/server"
)

func TestCheckWritable(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		setup  func(t *testing.T, path string) *Store // nil: open normally
		reason string                                 // "" : writable
	}{
		{"writable", nil, ""},
		{"read-only file", func(t *testing.T, path string) *Store {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			testutil.ReadOnlyFile(t, path)
			s, err = Open(ctx, path, Options{})
			if err != nil {
				t.Fatalf("opening a read-only file: %v", err)
			}
			return s
		}, "the database is read-only"},
		{"closed", func(t *testing.T, path string) *Store {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			return s
		}, "the store is closed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.db")
			var s *Store
			if tt.setup != nil {
				s = tt.setup(t, path)
			} else {
				var err error
				if s, err = Open(ctx, path, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			defer s.Close()
			err := s.CheckWritable(ctx)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckWritable: %v", err)
				}
				return
			}
			var ue *server.UnwritableError
			if !errors.As(err, &ue) || !strings.HasPrefix(ue.Reason, tt.reason) {
				t.Fatalf("CheckWritable: %v, want an UnwritableError %q", err, tt.reason)
			}
			if strings.Contains(ue.Error(), path) || strings.Contains(ue.Error(), filepath.Dir(path)) {
				t.Errorf("the reason names the path: %q", ue.Error())
			}
		})
	}
}
