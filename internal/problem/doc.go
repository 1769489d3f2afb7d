// Package problem writes RFC 9457 problem documents for the answers that
// fortapi and docsui give outside huma (routing errors, oversized headers,
// panics, docs assets), and carries the request id they name.
//
// What it defends against: error bodies that differ by origin (a plain-text
// 404 here, JSON there) and therefore leak which layer answered, errors
// that cannot be traced (each names the request id when there is one), and
// cached or sniffed error bodies (Cache-Control: no-store,
// X-Content-Type-Options: nosniff).
package problem
