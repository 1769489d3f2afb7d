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
// Responses escape HTML characters.
var strictJSON = huma.Format{
	Marshal: func(w io.Writer, v any) error {
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
// unescaping, so "a" and "\u0061" are the same member.
func noDuplicateMembers(data []byte) error {
	if !bytes.Contains(data, []byte{'{'}) {
		return nil // no object, no member
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		names  map[string]struct{}
		object bool
		key    bool // the next string token in an object is a name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or malformed: json.Unmarshal explains
		}
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top >= 0 && stack[top].object {
					stack[top].key = true
				}
				stack = append(stack, frame{object: true, key: true})
			case '[':
				if top >= 0 && stack[top].object {
					stack[top].key = true
				}
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if top >= 0 && stack[top].object && stack[top].key {
				f := &stack[top]
				if f.names == nil {
					f.names = map[string]struct{}{}
				}
				if _, dup := f.names[t]; dup {
					return fmt.Errorf("the member %q appears twice in one object", t)
				}
				f.names[t] = struct{}{}
				f.key = false
				continue
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].key = true // a value ends; a name comes next
		}
	}
}
