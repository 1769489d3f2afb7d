package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// ReadOnlyFile makes the file at path read-only for this process until t
// ends: chmod 0444, or for root, whom permissions do not stop, the
// immutable attribute (chattr +i; t is skipped when the file system or
// the container does not allow it). Opening it for writing then fails,
// as on a read-only volume.
func ReadOnlyFile(t testing.TB, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(path, st.Mode().Perm()) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s read-only for root (chattr +i: %v %s)", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v %s", path, err, out)
		}
	})
}
