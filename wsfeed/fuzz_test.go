package wsfeed

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
)

// clientFrame encodes one masked client frame (RFC 6455 §5.2).
func clientFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// FuzzClientFrames sends arbitrary bytes as the client's side of an open
// feed socket. Whatever they are, the server answers at most with control
// frames, ends the connection once the client has finished sending, and
// frees its place: nothing a client sends is read unbounded, kept, or
// leaves a socket behind.
func FuzzClientFrames(f *testing.F) {
	f.Add(clientFrame(0x1, true, []byte("hi")))
	f.Add(clientFrame(0x2, true, make([]byte, 2000)))
	f.Add(clientFrame(0x9, true, []byte("ping")))
	f.Add(append(clientFrame(0x9, true, nil), clientFrame(0xA, true, []byte("unsolicited pong"))...))
	f.Add(clientFrame(0x8, true, []byte{0x03, 0xe8}))
	f.Add(clientFrame(0x8, true, []byte{0x00, 0x01})) // invalid close code
	f.Add(clientFrame(0x8, true, []byte{0x03}))       // close payload of one byte
	f.Add(clientFrame(0x0, true, []byte("continuation without start")))
	f.Add(append(clientFrame(0x1, false, []byte("frag")), clientFrame(0x0, true, []byte("ment"))...))
	f.Add(append(clientFrame(0x1, false, []byte("frag")), clientFrame(0x9, true, []byte("p"))...))
	f.Add(clientFrame(0x9, false, []byte("fragmented ping")))
	f.Add(clientFrame(0x9, true, make([]byte, 126))) // control frame too long
	f.Add([]byte{0x81, 0x02, 'h', 'i'})              // unmasked
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0xf1, 0x80, 0, 0, 0, 0}) // reserved bits
	f.Add([]byte{0x83, 0x80, 0, 0, 0, 0}) // reserved opcode
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	e := newEnv(f, func(o *Options) { o.ReadLimit = 256 })
	addr := e.srv.Listener.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(nc, "GET "+feedPath+" HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer alice\r\n"+
			"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		// The server may close before everything is written: not an error.
		_, _ = nc.Write(data)
		_ = nc.(*net.TCPConn).CloseWrite()
		// What comes back is frames from the server: only control frames,
		// for the feed published nothing.
		for {
			var h [2]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
					t.Fatalf("the server did not end the connection: %v", err)
				}
				break
			}
			if op := h[0] & 0x0f; op < 0x8 {
				t.Fatalf("the server sent a data frame (opcode %d)", op)
			}
			if h[1]&0x80 != 0 || h[1]&0x7f > 125 {
				t.Fatalf("malformed server control frame % x", h)
			}
			if _, err := io.CopyN(io.Discard, br, int64(h[1]&0x7f)); err != nil {
				break
			}
		}
		waitFor(t, 5*time.Second, "the socket to be freed", func() bool { return e.feed.Conns() == 0 })
	})
}

// FuzzTicketAuthenticate: whatever a request carries, the ticket
// authenticator authenticates it only with the exact ticket issued, and
// never panics.
func FuzzTicketAuthenticate(f *testing.F) {
	f.Add("ticket, $", "")
	f.Add("ticket", "ticket=$")
	f.Add("", "ticket=$&ticket=$")
	f.Add("chat, ticket, $x", "")
	f.Add("ticket,,$", "a=b")
	f.Add("", "ticket=%ZZ")
	f.Fuzz(func(t *testing.T, protocols, query string) {
		tk, _ := NewTickets(TicketOptions{})
		v, _, err := tk.Issue(&fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme})
		if err != nil {
			t.Fatal(err)
		}
		protocols = strings.ReplaceAll(protocols, "$", v)
		query = strings.ReplaceAll(query, "$", v)
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.URL.RawQuery = query
		if protocols != "" {
			r.Header.Set("Sec-WebSocket-Protocol", protocols)
		}
		p, err := tk.Authenticate(r)
		if err != nil {
			return
		}
		if p.Subject != "alice" || p.Scheme != TicketScheme {
			t.Fatalf("authenticated %+v", p)
		}
		if got, _, _ := protocolTicket(r); got != v && r.URL.Query().Get(TicketParam) != v {
			t.Fatalf("authenticated without the issued ticket: %q %q", protocols, query)
		}
	})
}
