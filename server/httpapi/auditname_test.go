package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/fortapi/fortapi/server"
)

// The audit log names the user beside the id for a logout and a key
// rotation, whose requests carry only the id.
func TestAuditNamesTheUser(t *testing.T) {
	e := newAuthEnv(t)
	alice := e.login("alice", alicePass)
	if resp, b := e.call("POST", "/logout", "", "", bearer(alice.AccessToken)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	root := e.login("root", adminPass)
	if resp, b := e.call("POST", "/admin/keys/rotate", "", "", bearer(root.AccessToken)); resp.StatusCode >= 300 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	for _, tt := range []struct{ typ, want string }{
		{server.EventLogout, "alice"},
		{server.EventKeyRotated, "root"},
	} {
		evs, err := e.store.ListEvents(context.Background(), server.EventFilter{Type: tt.typ, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Username != tt.want || evs[0].UserID == "" {
			t.Errorf("%s events %+v, want one by %s (with the id)", tt.typ, evs, tt.want)
		}
	}
}
