package server

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fs.FS
		want    []Migration
		wantErr string
	}{
		{"in order, other files ignored", fstest.MapFS{"m/0002_b.sql": file("y"), "m/0001_a.sql": file("x"), "m/README": file(""), "m/0003_dir.sql/x": file("")},
			[]Migration{{1, "0001_a.sql", "x"}, {2, "0002_b.sql", "y"}}, ""},
		{"gap", fstest.MapFS{"m/0001_a.sql": file("x"), "m/0003_c.sql": file("y")}, nil, `migration "0003_c.sql" has version 3, want 2`},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": file("x"), "m/0001_b.sql": file("y")}, nil, "want 2"},
		{"not from 1", fstest.MapFS{"m/0002_a.sql": file("x")}, nil, "want 1"},
		{"short number", fstest.MapFS{"m/1_a.sql": file("x")}, nil, `migration "1_a.sql": name must be NNNN_description.sql`},
		{"no description", fstest.MapFS{"m/0001.sql": file("x")}, nil, "NNNN_description.sql"},
		{"not a number", fstest.MapFS{"m/abcd_a.sql": file("x")}, nil, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("x")}, nil, "NNNN > 0"},
		{"none", fstest.MapFS{"m/README": file("")}, nil, "no embedded migrations"},
		{"no directory", fstest.MapFS{}, nil, "reading embedded migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadMigrations(tc.fsys, "m")
			if !errMatches(err, tc.wantErr) {
				t.Fatalf("LoadMigrations error = %v, want %q", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("LoadMigrations = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("migration %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCheckSchemaVersion(t *testing.T) {
	tests := []struct {
		name              string
		cur, rows, latest int
		wantErr           string
		tooNew            bool
	}{
		{"new database", 0, 0, 4, "", false},
		{"behind", 2, 2, 4, "", false},
		{"current", 4, 4, 4, "", false},
		{"newer", 5, 5, 4, "database is at schema version 5, this binary knows versions up to 4", true},
		{"gap in history", 3, 2, 4, "schema_migrations is inconsistent: 2 rows, highest version 3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSchemaVersion(tc.cur, tc.rows, tc.latest)
			if !errMatches(err, tc.wantErr) || errors.Is(err, ErrSchemaTooNew) != tc.tooNew {
				t.Fatalf("CheckSchemaVersion = %v, want %q (ErrSchemaTooNew: %v)", err, tc.wantErr, tc.tooNew)
			}
		})
	}
}
