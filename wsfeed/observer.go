package wsfeed

// Observer is told of the upgrades the feed refuses and of the end of
// every socket it upgraded (Options.Observer), for metrics. Its arguments
// come from fixed sets: never a subject, an address or a credential.
// Calls must be cheap, must not block and must be safe for concurrent
// use.
type Observer interface {
	// UpgradeRefused reports an upgrade the feed refused before the
	// upgrade; reason is a Refused* constant. Upgrades without valid
	// credentials or scopes are refused earlier, by fortapi (401, 403),
	// and never reach the feed.
	UpgradeRefused(reason string)
	// SocketClosed reports the end of an upgraded socket, once: code is
	// the close code that ended it and byServer whether the server
	// started the end. The server's own close (CloseGoingAway,
	// CloseUnsupportedData, CloseSlowConsumer, CloseTooBig,
	// CloseCredentials, CloseResync) counts as its code even when the
	// peer never answered it; a socket the server cut because its peer
	// stopped answering pings is 1006 (abnormal closure) by the server; a
	// peer's close frame is the peer's code; a connection lost without a
	// close frame is 1006 by the client.
	SocketClosed(code int, byServer bool)
}

// Reasons of Observer.UpgradeRefused.
const (
	// RefusedHandshake: not a valid WebSocket version 13 upgrade request
	// (426 or 400).
	RefusedHandshake = "handshake"
	// RefusedOrigin: ambient credentials from an origin not allowed
	// (403).
	RefusedOrigin = "origin"
	// RefusedUnavailable: Options.Available said the feed cannot deliver
	// (503).
	RefusedUnavailable = "unavailable"
	// RefusedSubjectCap: the subject has MaxConnsPerSubject sockets (429).
	RefusedSubjectCap = "subject_cap"
	// RefusedFull: the feed has MaxConns sockets, or is closing (503).
	RefusedFull = "full"
)

// closeAbnormal (1006) is the code of a socket that ended without a close
// frame; it is never sent.
const closeAbnormal = 1006

// refused reports an upgrade refusal to the observer, if any.
func (f *Feed) refused(reason string) {
	if f.o.Observer != nil {
		f.o.Observer.UpgradeRefused(reason)
	}
}
