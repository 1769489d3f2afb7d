package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// slot is one place a value goes: a query or path parameter, or a
// top-level body field.
type slot struct {
	in     string // query, path, body
	name   string
	schema map[string]any
}

// variant builds the request of c with one slot set to a raw value (or a
// JSON value for bodies).
func (s *scanner) variant(c call, who *principal, sl slot, val any) req {
	r := req{method: c.op.method, path: c.path, body: c.body, ctype: c.ctype, as: who, op: c.op.label()}
	switch sl.in {
	case "query":
		u, _ := url.Parse(c.path)
		q := u.Query()
		q.Set(sl.name, fmt.Sprint(val))
		u.RawQuery = q.Encode()
		r.path = u.String()
	case "path":
		// re-fill the template with the slot's value in place
		p := c.op.path
		cur := strings.Split(strings.SplitN(c.path, "?", 2)[0], "/")
		tmpl := strings.Split(p, "/")
		if len(cur) == len(tmpl) {
			for i, t := range tmpl {
				if t == "{"+sl.name+"}" {
					cur[i] = url.PathEscape(fmt.Sprint(val))
				}
			}
			r.path = strings.Join(cur, "/")
			if _, q, ok := strings.Cut(c.path, "?"); ok {
				r.path += "?" + q
			}
		}
	case "body":
		m, _ := c.sent.(map[string]any)
		nm := copyMap(m)
		// a fresh username for every request: a login form's throttle
		// then never slows the scan, nor counts against a real account
		props, _ := c.op.body["properties"].(map[string]any)
		for k := range nm {
			if k != sl.name && usernameField(k) {
				pm, _ := props[k].(map[string]any)
				nm[k] = gen(pm, k, 0)
			}
		}
		nm[sl.name] = val
		r.body, r.ctype = encodeBody(c.op, nm)
	}
	return r
}

// slots lists where input goes in c.
func slots(c call) []slot {
	var out []slot
	for _, p := range c.op.params {
		if p.in == "query" || p.in == "path" {
			out = append(out, slot{p.in, p.name, p.schema})
		}
	}
	if m, ok := c.sent.(map[string]any); ok {
		props, _ := c.op.body["properties"].(map[string]any)
		for k := range m {
			pm, _ := props[k].(map[string]any)
			out = append(out, slot{"body", k, pm})
		}
	}
	return out
}

func (s *scanner) checkInput(ctx context.Context) error {
	var bodyOp *call
	var bodyWho *principal
	ops := s.opsByMethod()
	// creations first: searches then have objects to find
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].method == "POST" && ops[j].method != "POST" })
	for _, op := range ops {
		if op.tmpl == s.tokenURL || (op.method == "POST" && looksDangerous(op.tmpl)) {
			continue
		}
		who := s.caller(op)
		if !op.public && who == nil {
			continue
		}
		c, ok, err := s.prepare(ctx, who, op)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if bodyOp == nil && op.bodyType == "application/json" && (op.method == "POST" || c.owned) {
			cc := c
			bodyOp, bodyWho = &cc, who
		}
		base, err := s.do(ctx, req{method: op.method, path: c.path, body: c.body, ctype: c.ctype, as: who, op: op.label()})
		if err != nil {
			return err
		}
		if destructive(op.method) && op.method == "DELETE" {
			continue // deleted: the fixture is gone; DELETE takes no input
		}
		for _, sl := range slots(c) {
			if err := s.inputSlot(ctx, c, who, sl, base); err != nil {
				return err
			}
		}
		// a field whose bad value already gave a 5xx names the missing
		// validation: a malformed body failing too is that same finding
		if op.bodyType == "application/json" && s.enabled("INPUT-5XX") && !s.found("INPUT-5XX", op.label()) {
			for _, raw := range []string{`{`, `[]`, `null`, `{"fortapi_scan_unknown":1}`, `"` + strings.Repeat("x", 64) + `"`} {
				b := []byte(raw)
				if raw == `{"fortapi_scan_unknown":1}` {
					m, _ := c.sent.(map[string]any)
					mm := copyMap(m, "fortapi_scan_unknown", 1)
					b, _ = json.Marshal(mm)
				}
				r, err := s.do(ctx, req{method: op.method, path: c.path, body: b, ctype: "application/json", as: who, op: op.label()})
				if err != nil {
					return err
				}
				if r.status >= 500 {
					s.report("INPUT-5XX", op.label(), "body", "a malformed body was answered "+fmt.Sprint(r.status)+"\n"+excerpt(r))
					break
				}
			}
		}
	}
	if s.enabled("BODY-OVERSIZED") && bodyOp != nil {
		if err := s.checkOversized(ctx, *bodyOp, bodyWho); err != nil {
			return err
		}
	}
	return nil
}

// negatives are schema-violating values for a slot.
func negatives(sl slot) []any {
	t := schemaType(sl.schema)
	var out []any
	switch t {
	case "integer", "number":
		out = append(out, "fortapi-scan", "99999999999999999999999999", "1e309", "-1")
		if mx, ok := sl.schema["maximum"].(float64); ok {
			out = append(out, mx+1)
		}
		if mn, ok := sl.schema["minimum"].(float64); ok {
			out = append(out, mn-1)
		}
	case "boolean":
		out = append(out, "fortapi-scan")
	case "array", "object":
		out = append(out, "fortapi-scan")
	default:
		if sl.in == "body" {
			out = append(out, strings.Repeat("x", 70000), 12345, []any{1}, map[string]any{"a": 1})
		} else {
			out = append(out, strings.Repeat("x", 6000))
		}
		if mx, ok := sl.schema["maxLength"].(float64); ok && mx < 60000 {
			out = append(out, strings.Repeat("y", int(mx)+1))
		}
		if f, _ := sl.schema["format"].(string); f != "" {
			out = append(out, "fortapi-scan-not-a-"+f)
		}
		if _, ok := sl.schema["enum"]; ok {
			out = append(out, "fortapi-scan-not-in-enum")
		}
		out = append(out, "\x00\xff%00", "../../../../etc/passwd")
	}
	if sl.in == "body" {
		out = append(out, nil)
	}
	return out
}

// same reports whether two answers are equal, once the payloads and
// volatile parts are removed.
func same(a, b *resp, strip ...string) bool {
	return a.status == b.status && normalize(string(a.body), strip...) == normalize(string(b.body), strip...)
}

// alike reports whether two answers are the same, or nearly: the same
// status and normalized bodies that share 97 % of their length as a
// common prefix and suffix (a stack trace in an error may differ in a
// frame between two equal requests). Two answers that differ only that
// little are never taken for a true and a false condition.
func alike(a, b *resp, strip ...string) bool {
	if a.status != b.status {
		return false
	}
	x, y := normalize(string(a.body), strip...), normalize(string(b.body), strip...)
	if x == y {
		return true
	}
	n := max(len(x), len(y))
	if n < 200 {
		return false
	}
	p := 0
	for p < len(x) && p < len(y) && x[p] == y[p] {
		p++
	}
	q := 0
	for q < len(x)-p && q < len(y)-p && x[len(x)-1-q] == y[len(y)-1-q] {
		q++
	}
	return float64(p+q) >= 0.97*float64(n)
}

func (s *scanner) inputSlot(ctx context.Context, c call, who *principal, sl slot, base *resp) error {
	// fastest is the quickest answer of this slot: with the original's,
	// the baseline of the time-based probe (one slow original answer on
	// a loaded server must not hide a delay)
	fastest := base.dur
	send := func(val any, sqli bool) (*resp, error) {
		r := s.variant(c, who, sl, val)
		// a quote may end a SQL string: a database error it causes is
		// SQL injection's evidence, not a verbose error's
		r.sqli = sqli || strings.ContainsAny(fmt.Sprint(val), `'"\`)
		res, err := s.do(ctx, r)
		if err == nil && res.status != 0 && res.dur < fastest {
			fastest = res.dur
		}
		return res, err
	}
	param := sl.in + ":" + sl.name
	// A database error answered to a wrong value is held back until the
	// SQL injection probes of this slot are done: when they find the
	// slot injectable, the error is that finding's, not a verbose error.
	var dbErr *resp
	var dbErrMsg string
	sendNeg := func(val any) (*resp, error) {
		r, err := send(val, true)
		if err == nil && dbErr == nil && r.status >= 400 {
			if m := reSQLErr.FindString(string(r.body)); m != "" && reSQLErr.FindString(string(base.body)) == "" {
				dbErr, dbErrMsg = r, m
			}
		}
		return r, err
	}
	defer func() {
		if dbErr != nil && !s.found("SQLI-ERROR", c.op.label(), param) {
			s.report("ERROR-VERBOSE", c.op.label(), "", "database error in an error answer: "+dbErrMsg+"\n"+excerpt(dbErr))
		}
	}()
	if s.enabled("INPUT-5XX") {
		for _, v := range negatives(sl) {
			r, err := sendNeg(v)
			if err != nil {
				return err
			}
			if r.status >= 500 {
				s.report("INPUT-5XX", c.op.label(), param, fmt.Sprintf("%s = %s answered %d\n%s", sl.name, truncate(fmt.Sprint(v), 40), r.status, excerpt(r)))
				break
			}
		}
	}
	t := schemaType(sl.schema)
	isString := t == "string" || t == ""
	numeric := t == "integer" || t == "number"
	if !isString && !numeric {
		return nil
	}
	orig := ""
	switch sl.in {
	case "body":
		m, _ := c.sent.(map[string]any)
		orig = fmt.Sprint(m[sl.name])
	case "query":
		u, _ := url.Parse(c.path)
		orig = u.Query().Get(sl.name)
		if orig == "" {
			orig = fmt.Sprint(gen(sl.schema, sl.name, 0))
		}
	case "path":
		cur := strings.Split(strings.SplitN(c.path, "?", 2)[0], "/")
		tmpl := strings.Split(c.op.path, "/")
		for i, tt := range tmpl {
			if tt == "{"+sl.name+"}" && i < len(cur) {
				orig, _ = url.PathUnescape(cur[i])
			}
		}
	}
	// error-based SQL injection
	if s.enabled("SQLI-ERROR") {
		baseErr := reSQLErr.FindString(string(base.body))
		for _, p := range []string{"'", "\"", "')", "1'\"", "\\"} {
			r, err := send(orig+p, true)
			if err != nil {
				return err
			}
			if m := reSQLErr.FindString(string(r.body)); m != "" && baseErr == "" {
				s.report("SQLI-ERROR", c.op.label(), param, fmt.Sprintf("%s = %q produced a database error (%s)\n%s", sl.name, orig+p, m, excerpt(r)))
				break
			}
		}
	}
	// boolean-based: reads only (an OR in an UPDATE would touch every row)
	if s.enabled("SQLI-BOOLEAN") && c.op.method == "GET" {
		found, err := s.sqliBoolean(ctx, send, c, sl, orig, base, numeric)
		if err != nil || found {
			return err
		}
	}
	if s.enabled("SQLI-TIME") {
		if err := s.sqliTime(ctx, send, c, sl, orig, fastest, numeric); err != nil {
			return err
		}
	}
	// numbers too: an error page often echoes the raw value it could not
	// read ("no item with id ...")
	if s.enabled("XSS-REFLECTED") {
		marker := "fsx" + randHex(4)
		payload := marker + `"'><svg/onload=` + marker + `>`
		r, err := send(payload, false)
		if err != nil {
			return err
		}
		ct := r.ctype()
		if strings.Contains(string(r.body), payload) && (ct == "text/html" || ct == "" || ct == "application/xhtml+xml" || ct == "text/xml" || ct == "image/svg+xml") {
			s.report("XSS-REFLECTED", c.op.label(), param, fmt.Sprintf("the marker %s came back unescaped in %q (status %d)\n%s", payload, ct, r.status, excerpt(r)))
		}
	}
	return nil
}

type sender func(val any, sqli bool) (*resp, error)

func (s *scanner) sqliBoolean(ctx context.Context, send sender, c call, sl slot, orig string, base *resp, numeric bool) (bool, error) {
	type pair struct{ t1, f1, t2, f2, none string }
	pairs := []pair{
		{orig + "' AND '1'='1", orig + "' AND '1'='2", orig + "' AND 'fsq'='fsq", orig + "' AND 'fsq'='fsr", ""},
		{"fortapiscan-none' OR '1'='1", "fortapiscan-none' OR '1'='2", "fortapiscan-none' OR 'fsq'='fsq", "fortapiscan-none' OR 'fsq'='fsr", "fortapiscan-none"},
	}
	if numeric {
		pairs = []pair{{orig + " AND 1=1", orig + " AND 1=2", orig + " AND 7=7", orig + " AND 7=8", ""}}
	}
	for _, p := range pairs {
		var rs [4]*resp
		for i, v := range []string{p.t1, p.f1, p.t2, p.f2} {
			r, err := send(v, true)
			if err != nil {
				return false, err
			}
			rs[i] = r
		}
		strip := []string{p.t1, p.f1, p.t2, p.f2, orig}
		if !alike(rs[0], rs[2], strip...) || !alike(rs[1], rs[3], strip...) || alike(rs[0], rs[1], strip...) {
			continue
		}
		ref := base
		if p.none != "" {
			r, err := send(p.none, true)
			if err != nil {
				return false, err
			}
			ref = r
			if !alike(rs[1], ref, strip...) { // false must look like "no match"
				continue
			}
		} else if !alike(rs[0], ref, strip...) { // true must look like the original
			continue
		}
		if rs[0].status >= 500 || rs[1].status >= 500 && rs[0].status >= 400 {
			continue
		}
		s.report("SQLI-BOOLEAN", c.op.label(), sl.in+":"+sl.name, fmt.Sprintf("%q and %q answer alike, %q and %q alike, and the two differ\n%s\n---\n%s", p.t1, p.t2, p.f1, p.f2, excerpt(rs[0]), excerpt(rs[1])))
		return true, nil
	}
	return false, nil
}

// heavyRows is about the size of SQLite's heavy query (a recursive count:
// CPU only, constant memory, a cost linear in its size) that takes a
// second on a fast server. The probe starts at heavyStartRows per second
// of delay (a slow server, or one built with the race detector, takes
// fifty times longer: a first probe of a full second's size could outlast
// the client's timeout) and resizes it, at most heavyResizes times, to the
// cost it measured: tenfold at most while too cheap to measure, down when
// far too slow, and again when a confirmation shows it too small (a cost
// measured on a loaded machine is often inflated).
const (
	heavyRows      = 1000000
	heavyStartRows = 20000
	heavyResizes   = 6
	// timeConfirms bounds the dose-response confirmations of one slot.
	timeConfirms = 3
)

// timeFamily is one time-based payload, at an amount: 0 (the control),
// 1 (the delay asked) or 2 (twice that).
type timeFamily struct {
	at    func(k int) string
	heavy bool
}

// minE1 is the least extra time of a single amount over the control: 70 %
// of a sleep, half the delay for the heavy query (sized to 1.2 times the
// delay, but from a cost measured under a load that varies).
func (f timeFamily) minE1(delay time.Duration) time.Duration {
	if f.heavy {
		return delay / 2
	}
	return delay * 7 / 10
}

// sqliTime sends a delay of n seconds in several dialects (sleeps, and
// SQLite's heavy query). An answer slower than the slot's fastest by 0.8 n
// (or than 0.95 n: a load may have slowed the answers the baseline was
// taken from) is only a candidate; it is confirmed by dose response
// (confirmTime):
// twice the amount must take clearly longer, about proportionally, and
// both must stand above the zero-amount control, over interleaved samples.
// Random load slows answers but does not follow the amount asked.
func (s *scanner) sqliTime(ctx context.Context, send sender, c call, sl slot, orig string, baseline time.Duration, numeric bool) error {
	n := s.opts.SleepSeconds
	delay := time.Duration(n) * s.opts.second
	sleep := func(format string) timeFamily {
		return timeFamily{at: func(k int) string { return fmt.Sprintf(format, orig, k*n) }}
	}
	var fams []timeFamily
	if numeric {
		fams = []timeFamily{
			sleep("%s-(SELECT sleep(%d))"),
			sleep("%s+(SELECT 0 FROM pg_sleep(%d))"),
			sleep("%s AND (SELECT 1 FROM (SELECT SLEEP(%d))x)"),
			sleep("%s; WAITFOR DELAY '0:0:%d'--"),
		}
	} else {
		fams = []timeFamily{
			sleep("%s'||(SELECT sleep(%d))||'"),
			sleep("%s'||(SELECT CAST(pg_sleep(%d) AS text))||'"),
			sleep("%s' AND (SELECT 1 FROM (SELECT SLEEP(%d))x) AND '1'='1"),
			sleep("%s'; WAITFOR DELAY '0:0:%d'--"),
		}
	}
	// The baseline is the slot's fastest answer so far; two controls
	// more (cheap: no delay) keep one slow answer from raising it.
	for range 2 {
		r, err := send(fams[0].at(0), true)
		if err != nil {
			return err
		}
		if r.status != 0 {
			baseline = min(baseline, r.dur)
		}
	}
	threshold := baseline + delay*8/10
	// the heavy query's sizes are per second of delay
	rows := func(perSecond int) int { return max(1, int(float64(perSecond)*delay.Seconds())) }
	heavySize, maxHeavy := rows(heavyStartRows), 100*rows(heavyRows)
	if !numeric {
		fams = append(fams, timeFamily{heavy: true, at: func(k int) string {
			// k == 0 is LIMIT 0: the same query, nothing to count
			return fmt.Sprintf("%s'||(WITH RECURSIVE fsq(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM fsq LIMIT %d) SELECT count(*) FROM fsq)||'", orig, k*heavySize)
		}})
	}
	// resize scales the heavy query so that it should cost 1.2 times the
	// delay, given that its current size cost extra: tenfold at most (an
	// extra too small to measure), and down when too slow.
	resizes := 0
	resize := func(extra time.Duration, up bool) bool {
		if resizes >= heavyResizes {
			return false
		}
		resizes++
		f := 1.2 * float64(delay) / float64(max(extra, time.Millisecond))
		if up {
			f = min(max(f, 1.5), 10)
		}
		heavySize = max(1, min(int(float64(heavySize)*f), maxHeavy))
		return true
	}
	confirms, retried := 0, make([]bool, len(fams))
	for i := 0; i < len(fams); i++ {
		f := fams[i]
		r, err := send(f.at(1), true)
		if err != nil {
			return err
		}
		if r.status == 0 { // a timeout is no proof; a heavy query may be too big
			if f.heavy && heavySize > 1 && resize(10*delay, false) {
				i--
			}
			continue
		}
		extra := r.dur - baseline
		// a candidate: 0.8 delay over the baseline, or at least 0.95 of
		// the delay (a sleep is never shorter; a baseline may be raised
		// by load)
		if r.dur < threshold && r.dur < delay*95/100 {
			if f.heavy && heavySize < maxHeavy && resize(extra, true) {
				i-- // the same query, resized
			}
			continue
		}
		if f.heavy && extra > 4*delay && resize(extra, false) {
			i-- // twice its size would take too long: smaller first
			continue
		}
		if confirms >= timeConfirms {
			return nil
		}
		confirms++
		v, err := s.confirmTime(ctx, send, f, r, baseline, delay)
		if err != nil {
			return err
		}
		if v.hit {
			s.report("SQLI-TIME", c.op.label(), sl.in+":"+sl.name, v.evidence)
			return nil
		}
		switch {
		case f.heavy && v.lost && resize(4*delay, false):
			i-- // twice the size outlasted the client's timeout
		case v.lost:
		case f.heavy && v.e1 < f.minE1(delay) && resize(v.e1, true):
			i-- // the measured cost was inflated by load: larger, and again
		case !retried[i] && v.e1 >= f.minE1(delay):
			retried[i] = true
			i-- // slow but not in proportion: once more (a noisy sample)
		}
	}
	return nil
}

// timeVerdict is a dose-response confirmation's outcome.
type timeVerdict struct {
	hit      bool
	lost     bool          // an answer timed out
	e1       time.Duration // the single amount's extra over the control
	evidence string
}

// confirmTime decides whether a candidate time-based injection is real.
// The samples are interleaved in a mirrored order, the candidate first:
// single, control, double, double, control, single, so that a load that
// rises or falls during the probe weighs the same on the three kinds; and
// no single stretch of load can slow the four dosed answers without also
// slowing both controls. With the fastest of each kind (load only adds
// time), e1 and e2 the single and double amounts' extra over the control:
// a hit needs the control under baseline + delay/2, e1 >= 0.7 delay (0.5
// for the heavy query), and the second amount's own cost e2-e1 at least
// delay/2 and half of e1 and at most twice e1 plus delay/2 (about
// proportional). Every answer is checked as it comes: the probe stops as
// soon as one is too fast or lost.
func (s *scanner) confirmTime(ctx context.Context, send sender, f timeFamily, first *resp, baseline, delay time.Duration) (timeVerdict, error) {
	order := []int{0, 2, 2, 0, 1}
	durs := map[int][]time.Duration{1: {first.dur}}
	ref := baseline
	var last *resp
	for _, k := range order {
		r, err := send(f.at(k), true)
		if err != nil {
			return timeVerdict{}, err
		}
		if r.status == 0 {
			return timeVerdict{lost: true}, nil
		}
		durs[k] = append(durs[k], r.dur)
		// necessary conditions, early: the dosed answers stand above the
		// fastest control (or baseline) by at least what the final rule asks
		if k == 0 {
			ref = min(ref, r.dur)
		}
		if k == 1 && r.dur < ref+f.minE1(delay) || k == 2 && r.dur < ref+delay {
			return timeVerdict{e1: (r.dur - ref) / time.Duration(k)}, nil
		}
		if k == 2 {
			last = r
		}
	}
	fastest := func(ds []time.Duration) time.Duration { return slices.Min(ds) }
	ctl, d1, d2 := fastest(durs[0]), fastest(durs[1]), fastest(durs[2])
	e1, e2 := d1-ctl, d2-ctl
	second := e2 - e1
	v := timeVerdict{e1: e1}
	v.hit = ctl < baseline+delay/2 && e1 >= f.minE1(delay) &&
		second >= delay/2 && second >= e1/2 && second <= 2*e1+delay/2
	ms := func(ds []time.Duration) string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = fmt.Sprint(d.Milliseconds())
		}
		return strings.Join(out, " and ") + " ms"
	}
	v.evidence = fmt.Sprintf("%q took %s; twice the amount, %q, %s; the control with a zero amount %s, the baseline %d ms\n%s",
		f.at(1), ms(durs[1]), f.at(2), ms(durs[2]), ms(durs[0]), baseline.Milliseconds(), excerpt(last))
	return v, nil
}

// checkOversized sends a body of 10.5 MiB to a JSON write operation.
func (s *scanner) checkOversized(ctx context.Context, c call, who *principal) error {
	m, _ := c.sent.(map[string]any)
	// a string field without maxLength, so that a server without a body
	// limit accepts it (a length error would hide the missing limit)
	// Else, when the schema refuses unknown fields, a string field with a
	// maxLength: the value is then read whole before it is refused (a
	// strict decoder may refuse an unknown field before reading on).
	field, limited := "", ""
	props, _ := c.op.body["properties"].(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pm, _ := props[k].(map[string]any)
		if _, ok := m[k].(string); !ok || usernameField(k) || strings.Contains(strings.ToLower(k), "password") {
			continue
		}
		if _, hasEnum := pm["enum"]; hasEnum || pm["format"] != nil {
			continue
		}
		if pm["maxLength"] == nil {
			field = k
			break
		}
		if limited == "" {
			limited = k
		}
	}
	if field == "" {
		field = "fortapi_scan_padding"
		if ap, ok := c.op.body["additionalProperties"].(bool); ok && !ap && limited != "" {
			field = limited
		}
	}
	big := copyMap(m, field, strings.Repeat("A", 10<<20+512<<10))
	b, _ := json.Marshal(big)
	r, err := s.do(ctx, req{method: c.op.method, path: c.path, body: b, ctype: "application/json", as: who, op: c.op.label(), noRetry: true})
	if err != nil {
		return err
	}
	r.sent = []byte(fmt.Sprintf(`{"%s": "AAAA… (%d bytes)"}`, field, len(b)))
	if r.ok() || r.status >= 500 {
		s.report("BODY-OVERSIZED", c.op.label(), "body", fmt.Sprintf("a %d-byte body was answered %d instead of 413\n%s", len(b), r.status, excerpt(r)))
	}
	return nil
}

func usernameField(k string) bool {
	switch strings.ToLower(k) {
	case "username", "user_name", "login", "email", "user":
		return true
	}
	return false
}
