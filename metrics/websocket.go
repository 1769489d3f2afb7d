package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// WebSocket counts the refused upgrades and the socket ends of a
// WebSocket feed; it implements wsfeed.Observer (whose reasons and codes
// it repeats: wsfeed imports fortapi, which imports this package).
type WebSocket struct {
	closes   *prometheus.CounterVec
	refusals *prometheus.CounterVec
}

// websocketCloseCodes are the close codes with a label value of their
// own; any other is "other".
var websocketCloseCodes = [...]int{
	1000, // normal closure (a client's)
	1001, // going away: a browser leaving the page, or the server shutting down
	1003, // a data message sent to the server-to-client feed
	1006, // no close frame: the connection was lost, or cut after a missing pong
	1008, // policy violation: a consumer too slow for its send queue
	1009, // a client message over the read limit
	1011, // internal error
	4401, // credentials revoked or expired
	4409, // events may have been missed: reconnect and reload
}

// websocketRefusals are the reasons of wsfeed.Observer.UpgradeRefused;
// any other is "other".
var websocketRefusals = [...]string{"handshake", "origin", "unavailable", "subject_cap", "full"}

// NewWebSocket creates the WebSocket counters and registers them with reg.
func NewWebSocket(reg prometheus.Registerer) (*WebSocket, error) {
	w := &WebSocket{
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_closes_total",
			Help: "WebSocket sockets ended, by the close code that ended them (1000, 1001, 1003, 1006, 1008, 1009, 1011, 4401, 4409, other) and initiator (server: the server closed or cut it; client: the peer's close frame or a lost connection).",
		}, []string{"code", "initiator"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_upgrade_rejections_total",
			Help: "WebSocket upgrades refused by the feed before the upgrade, by reason: handshake (426/400), origin (403), unavailable (503), subject_cap (429), full (503). Unauthenticated and forbidden upgrades (401, 403) are refused earlier and counted in http_server_request_duration_seconds.",
		}, []string{"reason"}),
	}
	// Every refusal and every close the server starts is reported from
	// the start, at zero, so that rate() and alerts see a series.
	for _, r := range websocketRefusals {
		w.refusals.WithLabelValues(r)
	}
	for _, c := range websocketCloseCodes {
		if c != 1000 && c != 1011 { // the feed never sends these
			w.closes.WithLabelValues(strconv.Itoa(c), "server")
		}
	}
	if err := register(reg, w.closes, w.refusals); err != nil {
		return nil, err
	}
	return w, nil
}

// UpgradeRefused counts an upgrade refused before the upgrade
// (wsfeed.Observer).
func (w *WebSocket) UpgradeRefused(reason string) {
	for _, r := range websocketRefusals {
		if r == reason {
			w.refusals.WithLabelValues(r).Inc()
			return
		}
	}
	w.refusals.WithLabelValues("other").Inc()
}

// SocketClosed counts a socket's end (wsfeed.Observer).
func (w *WebSocket) SocketClosed(code int, byServer bool) {
	label := "other"
	for _, c := range websocketCloseCodes {
		if c == code {
			label = strconv.Itoa(code)
			break
		}
	}
	initiator := "client"
	if byServer {
		initiator = "server"
	}
	w.closes.WithLabelValues(label, initiator).Inc()
}
