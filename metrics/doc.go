// Package metrics defines fortapi's Prometheus metrics: the HTTP request
// metrics of the fortapi package (HTTP) and the security metrics of the
// reference server (Security), named after OpenTelemetry's HTTP
// conventions where one exists.
//
// What it defends against: an operator blind to a brute-force wave, a
// stolen refresh token, a failing rate-limit store or a revocation lag;
// and metrics that become a leak or a memory exhaustion themselves. No
// label value ever holds a user, an address, a token, a path with ids or
// free text: every label takes values from a fixed set (operation ids
// and route patterns are fixed when the API is built; anything else
// becomes "other"), so the series count is bounded by the API's shape,
// not by its traffic.
//
// There is no package-level state: every collector is created for the
// prometheus.Registerer it is registered with (NewHTTP, NewSecurity), so
// two APIs in one process, or tests in parallel, each have their own.
// The libraries (ratelimit, csrf, token, password, secheader, the
// reference server's authn) do not import Prometheus: they define small
// observer interfaces, which the types here implement.
package metrics
