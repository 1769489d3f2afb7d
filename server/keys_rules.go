package server

import (
	"errors"
	"fmt"

	"github.com/fortapi/fortapi/jwtkey"
)

// CheckKeys checks the keys SaveKeys (jwtkey.Store) is to store, before
// anything is written: every key has an ID, an Alg and a State, and no ID
// is given twice.
func CheckKeys(keys []jwtkey.StoredKey) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		switch {
		case k.ID == "":
			return errors.New("key without an ID")
		case k.Alg == "" || k.State == "":
			return fmt.Errorf("key %q without an Alg or State", k.ID)
		case seen[k.ID]:
			return fmt.Errorf("key %q given twice", k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}
