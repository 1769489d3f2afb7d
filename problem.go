package fortapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi/internal/problem"
)

// maxEchoedValue is the longest string a validation error echoes back.
const maxEchoedValue = 200

const sensitiveKey = "fortapi.sensitive"

// sensitiveNames are the fragments of a field name whose value is never
// echoed in an error.
var sensitiveNames = [...]string{"password", "passwd", "passphrase", "secret", "token", "credential", "authorization", "cookie", "apikey", "api_key", "private"}

// strictJSON is the only request format: valid UTF-8 JSON (encoding/json
// would silently replace invalid bytes), no object naming a member twice
// (RFC 8259 leaves duplicates undefined: encoding/json keeps the last, other
// parsers the first, so {"role":"user","role":"admin"} would mean different
// things to a proxy and to us), and nothing after the value (json.Unmarshal
// refuses trailing data), nesting capped by encoding/json itself.
// Responses escape HTML characters. A response body with an AppendFortapiJSON
// method (jsonAppender) is written with it.
var strictJSON = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		if a, ok := v.(jsonAppender); ok {
			return writeAppended(w, a)
		}
		return json.NewEncoder(w).Encode(v)
	},
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errors.New("request body is not valid UTF-8")
		}
		if err := noDuplicateMembers(data); err != nil {
			return err
		}
		return json.Unmarshal(data, v)
	},
}

// jsonAppender is a response body type that encodes itself faster than
// encoding/json does by reflection. AppendFortapiJSON must append to dst exactly
// the bytes json.Marshal writes for the value without the method: compact,
// HTML characters escaped, invalid UTF-8 replaced, the same errors (and
// then dst unchanged). fortapi writes such a body as json.Encoder would:
// those bytes and a newline. It is not MarshalJSON, whose result
// encoding/json scans again (compacts) at a cost higher than its
// reflection; the method applies to the answer's body itself, not to
// values nested in another body. The name is fortapi's own so that a type
// with some other library's AppendJSON (which may not escape HTML) is
// never taken for one.
type jsonAppender interface {
	AppendFortapiJSON(dst []byte) ([]byte, error)
}

// appendBuffers recycles writeAppended's buffers.
var appendBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeAppended writes a's encoding and a newline to w in one Write, or
// nothing when encoding fails.
func writeAppended(w io.Writer, a jsonAppender) error {
	bp := appendBuffers.Get().(*[]byte)
	b, err := a.AppendFortapiJSON((*bp)[:0])
	if err == nil {
		b = append(b, '\n')
		_, err = w.Write(b)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		appendBuffers.Put(bp)
	}
	return err
}

// transformError hardens every error huma writes: server errors lose their
// details (logged instead), echoed values are dropped where they could
// carry a secret, and the request id is named in "instance".
func (a *API) transformError(ctx huma.Context, status string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	id := RequestID(ctx.Context())
	if em.Instance == "" && id != "" {
		em.Instance = problem.URN(id)
	}
	if em.Status >= 500 && errors.Is(ctx.Context().Err(), context.Canceled) {
		a.log.LogAttrs(ctx.Context(), slog.LevelInfo, "client closed the request before the answer",
			slog.String("request_id", id))
		em.Status, em.Title, em.Detail, em.Errors = StatusClientClosedRequest, "Client Closed Request", "the client closed the request", nil
		return em, nil
	}
	if em.Status >= 500 {
		if b := findBody(ctx); b != nil {
			if status, detail, ok := b.failure(); ok {
				// huma answers 500 to any error reading the body, but
				// the body is the client's: malformed, oversized or late.
				// The answer's status line follows (bodyContext.SetStatus).
				a.log.LogAttrs(ctx.Context(), slog.LevelInfo, "the request body could not be read",
					slog.String("request_id", id), slog.Int("status", status), slog.String("error", b.body.err.Error()))
				em.Status, em.Title, em.Detail, em.Errors = status, http.StatusText(status), detail, nil
				return em, nil
			}
		}
		if len(em.Errors) > 0 {
			msgs := make([]string, 0, len(em.Errors))
			for _, d := range em.Errors {
				if d != nil {
					msgs = append(msgs, d.Message)
				}
			}
			a.log.LogAttrs(ctx.Context(), slog.LevelError, "request failed",
				slog.String("request_id", id), slog.Int("status", em.Status),
				slog.String("error", strings.Join(msgs, "; ")))
		}
		em.Errors = nil
		if em.Status == http.StatusInternalServerError {
			em.Detail = "internal error; quote the request id " + id
		}
		return em, nil
	}
	var sensitive map[string]bool
	if op := ctx.Operation(); op != nil {
		sensitive, _ = op.Metadata[sensitiveKey].(map[string]bool)
	}
	for _, d := range em.Errors {
		if d != nil && !echoable(d, sensitive) {
			d.Value = nil
		}
	}
	return em, nil
}

// echoable reports whether an error detail's value may be sent back.
func echoable(d *huma.ErrorDetail, sensitive map[string]bool) bool {
	switch v := d.Value.(type) {
	case string:
		if len(v) > maxEchoedValue {
			return false
		}
	case float64, bool, int, int64, json.Number:
	default:
		return false // objects, arrays, raw bodies
	}
	loc := d.Location
	if loc == "body" || loc == "" {
		return false
	}
	lower := strings.ToLower(loc)
	for _, n := range sensitiveNames {
		if strings.Contains(lower, n) {
			return false
		}
	}
	return !sensitive[stripIndexes(loc)]
}

// stripIndexes turns body.a[3].b into body.a.b.
func stripIndexes(loc string) string {
	if !strings.Contains(loc, "[") {
		return loc
	}
	var b strings.Builder
	depth := 0
	for _, c := range loc {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// sensitiveLocations lists the body locations (body.a.b, without array
// indexes) of properties marked writeOnly in the operation's request
// schema.
func sensitiveLocations(reg huma.Registry, op *huma.Operation) map[string]bool {
	out := map[string]bool{}
	if op.RequestBody == nil {
		return out
	}
	mt := op.RequestBody.Content["application/json"]
	if mt == nil {
		return out
	}
	var walk func(s *huma.Schema, loc string, depth int)
	walk = func(s *huma.Schema, loc string, depth int) {
		if s == nil || depth > 32 {
			return
		}
		if s.Ref != "" {
			s = reg.SchemaFromRef(s.Ref)
			if s == nil {
				return
			}
		}
		if s.WriteOnly {
			out[loc] = true
		}
		for name, p := range s.Properties {
			walk(p, loc+"."+name, depth+1)
		}
		walk(s.Items, loc, depth+1)
	}
	walk(mt.Schema, "body", 0)
	return out
}

// noDuplicateMembers returns an error naming the first member that appears
// twice in one object of the JSON text data, nil when there is none or when
// data is not JSON (json.Unmarshal reports that). Names compare after
// unescaping, so "a" and "\u0061" are the same member. It runs on every
// request body, so it is a single allocation-free pass over the bytes
// (objects of more than 16 members and escaped names allocate).
func noDuplicateMembers(data []byte) error {
	if bytes.IndexByte(data, '{') < 0 {
		return nil // no object, no member
	}
	s := dupScanner{data: data}
	s.value(0)
	return s.err
}

// maxScanDepth bounds the scanner's recursion; deeper input is left to
// json.Unmarshal, which refuses it.
const maxScanDepth = 10000

// dupScanner walks JSON text looking for a repeated member name. It
// stops at the first duplicate (err) or at anything malformed (bad), which
// json.Unmarshal then reports.
type dupScanner struct {
	data []byte
	i    int
	err  error
	bad  bool
}

func (s *dupScanner) ws() { s.i = skipJSONSpace(s.data, s.i) }

// done reports whether scanning must stop.
func (s *dupScanner) done() bool { return s.err != nil || s.bad }

func (s *dupScanner) value(depth int) {
	s.ws()
	if s.i >= len(s.data) || depth > maxScanDepth {
		s.bad = true
		return
	}
	switch s.data[s.i] {
	case '{':
		s.object(depth + 1)
	case '[':
		s.i++
		s.ws()
		if s.i < len(s.data) && s.data[s.i] == ']' {
			s.i++
			return
		}
		for !s.done() {
			s.value(depth + 1)
			s.ws()
			if s.i >= len(s.data) {
				s.bad = true
				return
			}
			switch s.data[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return
			default:
				s.bad = true
			}
		}
	case '"':
		s.str()
	default: // number, true, false, null: up to the next delimiter
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			s.i++
		}
	}
}

// str consumes a string at s.i and returns its raw content and whether
// it holds an escape.
func (s *dupScanner) str() (raw []byte, escaped bool) {
	start := s.i + 1
	for i := start; i < len(s.data); i++ {
		switch s.data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			s.i = i + 1
			return s.data[start:i], escaped
		}
	}
	s.bad = true
	return nil, false
}

func (s *dupScanner) object(depth int) {
	s.i++ // {
	var small [16][]byte
	names := small[:0]
	var many map[string]struct{}
	for {
		s.ws()
		if s.i >= len(s.data) {
			s.bad = true
			return
		}
		if s.data[s.i] == '}' && len(names) == 0 && many == nil {
			s.i++
			return
		}
		if s.data[s.i] != '"' {
			s.bad = true
			return
		}
		name, escaped := s.str()
		if s.bad {
			return
		}
		if escaped {
			var dec string
			if json.Unmarshal(s.data[s.i-len(name)-2:s.i], &dec) != nil {
				s.bad = true
				return
			}
			name = []byte(dec)
		}
		dup := false
		if many != nil {
			_, dup = many[string(name)]
			many[string(name)] = struct{}{}
		} else {
			for _, n := range names {
				if bytes.Equal(n, name) {
					dup = true
					break
				}
			}
			if len(names) == len(small) {
				many = make(map[string]struct{}, 2*len(small))
				for _, n := range names {
					many[string(n)] = struct{}{}
				}
				many[string(name)] = struct{}{}
			} else {
				names = append(names, name)
			}
		}
		if dup {
			s.err = fmt.Errorf("the member %q appears twice in one object", name)
			return
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			s.bad = true
			return
		}
		s.i++
		s.value(depth)
		if s.done() {
			return
		}
		s.ws()
		if s.i >= len(s.data) {
			s.bad = true
			return
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.bad = true
			return
		}
	}
}
