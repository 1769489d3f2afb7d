// Package storetest is the contract suite of server.Store: one set of tests
// every store implementation passes, so that handlers can rely on the same
// behaviour whichever store backs them.
//
// A store's own test calls Run:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) server.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The hostile-string test reads testdata/sqli-payloads.txt at the root of
// the module (found by walking up from the working directory to go.mod).
package storetest
