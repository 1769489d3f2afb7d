package wsfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/wsfeed"
)

// A feed of item events on a fortapi API: the upgrade declares its
// security like any operation and is refused before the upgrade without
// it; browser scripts holding a bearer token get a single-use ticket
// first; each socket receives only its owner's events.
func Example() {
	auth := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return nil, fortapi.ErrNoCredentials
		case "Bearer alice-token": // a real service verifies a JWT here
			return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"items:read"}}, nil
		}
		return nil, errors.New("unknown token")
	})
	log := slog.New(slog.DiscardHandler)
	api := fortapi.New(fortapi.Options{Title: "Items", Authenticator: auth, Logger: log})

	tickets, _ := wsfeed.NewTickets(wsfeed.TicketOptions{})
	feed, _ := wsfeed.New(wsfeed.Options{Tickets: tickets, AllScope: "users:admin", Logger: log})
	defer feed.Close()
	if err := wsfeed.Register(api, huma.Operation{Path: "/ws/items", Security: wsfeed.Scopes("items:read")}, feed); err != nil {
		panic(err)
	}
	wsfeed.RegisterTickets(api, huma.Operation{Path: "/ws/ticket", Security: fortapi.Authenticated()}, tickets)
	handler, err := api.Handler()
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/items"
	ctx := context.Background()

	// No credentials: 401 before the upgrade. A token in the URL is no
	// credential.
	_, resp, _ := websocket.Dial(ctx, wsURL+"?access_token=alice-token", nil)
	fmt.Println("token in the URL:", resp.StatusCode)

	// A browser script: a ticket from POST /ws/ticket, presented as the
	// subprotocol pair (new WebSocket(url, ["ticket", value])).
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ws/ticket", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	tresp, _ := http.DefaultClient.Do(req)
	var t struct {
		Ticket string `json:"ticket"`
	}
	_ = json.NewDecoder(tresp.Body).Decode(&t)
	tresp.Body.Close()
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"ticket", t.Ticket}})
	if err != nil {
		panic(err)
	}
	defer c.CloseNow()
	fmt.Println("subprotocol:", c.Subprotocol())
	_, resp, _ = websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"ticket", t.Ticket}})
	fmt.Println("the same ticket again:", resp.StatusCode)

	// The socket subscribed before its 101 left: it gets every event
	// published from now on, its owner's only.
	_ = feed.Publish(wsfeed.Event{Owner: "bob", Message: map[string]string{"type": "item.created", "id": "b1"}})
	_ = feed.Publish(wsfeed.Event{Owner: "alice", Message: map[string]string{"type": "item.created", "id": "a1"}})
	_, msg, _ := c.Read(ctx)
	fmt.Println("alice reads:", string(msg))

	feed.Revoke(wsfeed.MatchSubject("alice")) // logout
	_, _, err = c.Read(ctx)
	fmt.Println("after logout:", int(websocket.CloseStatus(err)))
	// Output:
	// token in the URL: 401
	// subprotocol: ticket
	// the same ticket again: 401
	// alice reads: {"id":"a1","type":"item.created"}
	// after logout: 4401
}
