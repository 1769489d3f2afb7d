package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func (s *scanner) checkAuthz(ctx context.Context) error {
	if s.anyEnabled("BOLA-READ", "BOLA-WRITE") {
		if len(s.principals) < 2 {
			s.note("BOLA not tested: it needs two users (--user twice, or --token twice)")
		} else if err := s.checkBOLA(ctx); err != nil {
			return err
		}
	}
	if s.enabled("BFLA") {
		if err := s.checkBFLA(ctx); err != nil {
			return err
		}
	}
	if s.enabled("MASS-ASSIGNMENT") {
		if err := s.checkMassAssignment(ctx); err != nil {
			return err
		}
	}
	return nil
}

// getFor returns the GET operation on op's path, to verify a write.
func (s *scanner) getFor(op *operation) *operation {
	return s.findOp("GET", op.path)
}

// concreteFor puts op's path into the concrete path of another operation
// on the same template.
func (s *scanner) checkBOLA(ctx context.Context) error {
	a, b := s.principals[0], s.principals[1]
	for _, op := range s.opsByMethod() {
		if op.public || op.admin || len(op.pathParams()) == 0 || strings.HasSuffix(op.tmpl, "/me") {
			continue
		}
		if !a.hasScopes(op.scopes) || !b.hasScopes(op.scopes) {
			continue
		}
		p, owned, ok, err := s.objectPath(ctx, a, op)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		switch op.method {
		case "GET":
			if !s.enabled("BOLA-READ") {
				continue
			}
			ra, err := s.do(ctx, req{method: "GET", path: p, as: a, op: op.label()})
			if err != nil {
				return err
			}
			if !ra.ok() {
				continue // the owner cannot read it either
			}
			rb, err := s.do(ctx, req{method: "GET", path: p, as: b, op: op.label()})
			if err != nil {
				return err
			}
			if rb.ok() && (normalize(string(rb.body)) == normalize(string(ra.body)) || containsObjectData(rb.body, ra.body)) {
				s.report("BOLA-READ", op.label(), op.pathParams()[0].name, fmt.Sprintf("%s read an object of %s\n%s", b.label, a.label, excerpt(rb)))
			}
		case "PUT", "PATCH", "DELETE":
			if !s.enabled("BOLA-WRITE") || !owned {
				continue
			}
			get := s.getFor(op)
			marker := "fortapi-scan-bola-" + randHex(4)
			var body []byte
			var ct string
			if op.bodyType != "" {
				v := gen(op.body, "", 0)
				setStrings(v, marker)
				body, ct = encodeBody(op, v)
			}
			rb, err := s.do(ctx, req{method: op.method, path: p, body: body, ctype: ct, as: b, op: op.label()})
			if err != nil {
				return err
			}
			if !rb.ok() {
				continue
			}
			evidence := fmt.Sprintf("%s changed an object of %s\n%s", b.label, a.label, excerpt(rb))
			if get != nil {
				ra, err := s.do(ctx, req{method: "GET", path: p, as: a, op: get.label()})
				if err != nil {
					return err
				}
				applied := op.method == "DELETE" && (ra.status == 404 || ra.status == 410) ||
					op.method != "DELETE" && (strings.Contains(string(ra.body), marker) || op.bodyType == "")
				if !applied {
					continue
				}
				evidence += "\nthe owner then reads:\n" + excerpt(ra)
			}
			s.report("BOLA-WRITE", op.label(), op.pathParams()[0].name, evidence)
			if op.method == "DELETE" {
				s.objects = nil
			}
		}
	}
	return nil
}

// setStrings puts marker in every string of a generated body that has no
// format (names, descriptions).
func setStrings(v any, marker string) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			if xs, ok := x.(string); ok && strings.HasPrefix(xs, "fortapi-scan-") {
				m[k] = marker
			}
		}
	}
}

// containsObjectData reports whether the answer b carries the owner's
// object data: the same id and one more equal field.
func containsObjectData(b, owner []byte) bool {
	var mb, ma map[string]any
	if json.Unmarshal(b, &mb) != nil || json.Unmarshal(owner, &ma) != nil {
		return false
	}
	same := 0
	for k, v := range ma {
		if fmt.Sprint(mb[k]) == fmt.Sprint(v) && v != nil && fmt.Sprint(v) != "" {
			same++
		}
	}
	return same >= 2 && fmt.Sprint(mb["id"]) == fmt.Sprint(ma["id"])
}

// checkBFLA calls the admin operations as a user.
func (s *scanner) checkBFLA(ctx context.Context) error {
	var user *principal
	for _, p := range s.principals {
		if !p.admin {
			user = p
			break
		}
	}
	if user == nil {
		s.note("BFLA not tested: no non-admin user")
		return nil
	}
	skipped := 0
	for _, op := range s.opsByMethod() {
		if op.public || !op.admin || op.tmpl == s.tokenURL {
			continue
		}
		// objects of the admin's creation when there is an admin
		creator := s.admin
		p, owned := fillPath(op, nil), false
		if creator != nil {
			cp, ow, ok, err := s.objectPath(ctx, creator, op)
			if err != nil {
				return err
			}
			if ok {
				p, owned = cp, ow
			}
		}
		if destructive(op.method) && !owned && !s.opts.AllowDestructive {
			skipped++
			continue
		}
		if q := requiredQuery(op); len(q) > 0 {
			p += "?" + q.Encode()
		}
		var body []byte
		var ct string
		if op.bodyType != "" {
			body, ct = encodeBody(op, gen(op.body, "", 0))
		}
		r, err := s.do(ctx, req{method: op.method, path: p, body: body, ctype: ct, as: user, op: op.label()})
		if err != nil {
			return err
		}
		if r.ok() {
			why := "needs scope " + strings.Join(op.scopes, " ")
			if len(op.scopes) == 0 {
				why = "is marked as administrative"
			}
			s.report("BFLA", op.label(), "", fmt.Sprintf("the operation %s; %s (scopes %v) got %d\n%s", why, user.label, user.scopes, r.status, excerpt(r)))
			if destructive(op.method) {
				s.objects = nil
			}
		}
	}
	if skipped > 0 {
		s.note("BFLA: %d destructive admin operation(s) not sent: no object of the scan's own to aim them at (give --admin, or --allow-destructive)", skipped)
	}
	return nil
}

// massFields are the privileged fields sent by the mass-assignment check,
// with the value to send (given the other user's id).
func massFields(otherID string, idNumeric bool) map[string]any {
	id := any(randUUID())
	if idNumeric {
		id = float64(900000000 + int(randHex(2)[0]))
	}
	// a numeric user id goes as a number: a typed server refuses "2"
	// where it reads an integer
	other := any(otherID)
	if n, err := strconv.ParseInt(otherID, 10, 64); err == nil {
		other = float64(n)
	}
	return map[string]any{
		"owner": other, "owner_id": other, "ownerId": other, "user_id": other, "userId": other,
		"role": "admin", "is_admin": true, "isAdmin": true, "admin": true, "id": id,
	}
}

func (s *scanner) checkMassAssignment(ctx context.Context) error {
	if len(s.principals) == 0 {
		s.note("MASS-ASSIGNMENT not tested: no user")
		return nil
	}
	a := s.principals[0]
	other := "fortapi-scan-" + randHex(4)
	if len(s.principals) > 1 && s.principals[1].id != "" {
		other = s.principals[1].id
	}
	for _, op := range s.opsByMethod() {
		if op.bodyType != "application/json" || op.body == nil || op.admin || op.tmpl == s.tokenURL {
			continue
		}
		if op.method != "POST" && op.method != "PUT" && op.method != "PATCH" {
			continue
		}
		if op.method == "POST" && looksDangerous(op.tmpl) {
			continue
		}
		who := a
		if op.public {
			who = nil
		} else if !a.hasScopes(op.scopes) {
			continue
		}
		p, owned, ok, err := s.objectPath(ctx, a, op)
		if err != nil {
			return err
		}
		if !ok || (op.method != "POST" && !owned && !s.opts.AllowDestructive) {
			continue
		}
		props, _ := op.body["properties"].(map[string]any)
		v, _ := gen(op.body, "", 0).(map[string]any)
		if v == nil {
			continue
		}
		// id type from a fixture of the same collection
		idNumeric := false
		for _, o := range s.objects {
			if o != nil && o.got != nil {
				if _, ok := o.got["id"].(float64); ok {
					idNumeric = true
				}
			}
		}
		injected := map[string]any{}
		for k, x := range massFields(other, idNumeric) {
			pm, declared := props[k].(map[string]any)
			if declared {
				if ro, _ := pm["readOnly"].(bool); !ro {
					continue // a field the operation takes: not mass assignment
				}
			}
			injected[k] = x
		}
		if len(injected) == 0 {
			continue
		}
		if strings.HasSuffix(op.path, "/") && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		refused, err := s.massAssign(ctx, op, who, p, v, injected)
		if err != nil {
			return err
		}
		if refused {
			// A strict server refuses the whole body for one unknown
			// field; another field may still be applied when sent alone.
			keys := make([]string, 0, len(injected))
			for k := range injected {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if _, err := s.massAssign(ctx, op, who, p, v, map[string]any{k: injected[k]}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// massAssign sends op's valid body v with the injected fields added, reads
// the object back, and reports the fields applied. refused is true when
// the request was answered 400 or 422 (a strict body check).
func (s *scanner) massAssign(ctx context.Context, op *operation, who *principal, p string, v, injected map[string]any) (refused bool, err error) {
	body, ct := encodeBody(op, copyMapWith(v, injected))
	r, err := s.do(ctx, req{method: op.method, path: p, body: body, ctype: ct, as: who, op: op.label()})
	if err != nil {
		return false, err
	}
	if !r.ok() {
		return r.status == 400 || r.status == 422, nil
	}
	var got map[string]any
	_ = json.Unmarshal(r.body, &got)
	if got == nil {
		got = map[string]any{}
	}
	evid := excerpt(r)
	// the object as stored: read it back when there is a GET
	if op.method == "POST" {
		if id := idOf(got, "id"); id != "" {
			objPath := strings.TrimSuffix(p, "/") + "/" + id
			if g := s.findOp("GET", strings.TrimSuffix(op.path, "/")+"/{id}"); g != nil && who != nil {
				if rr, err := s.do(ctx, req{method: "GET", path: objPath, as: who, op: g.label()}); err == nil && rr.ok() {
					var m map[string]any
					if json.Unmarshal(rr.body, &m) == nil {
						for k, x := range m {
							got[k] = x
						}
					}
				} else if err != nil {
					return false, err
				}
			}
		}
	} else if g := s.getFor(op); g != nil {
		rr, err := s.do(ctx, req{method: "GET", path: p, as: who, op: g.label()})
		if err != nil {
			return false, err
		}
		var m map[string]any
		if rr.ok() && json.Unmarshal(rr.body, &m) == nil {
			got = m
			evid += "\nread back:\n" + excerpt(rr)
		}
	}
	var applied []string
	for k, x := range injected {
		if gv, ok := got[k]; ok && fmt.Sprint(gv) == fmt.Sprint(x) {
			applied = append(applied, k)
		}
	}
	sort.Strings(applied)
	for _, k := range applied {
		s.report("MASS-ASSIGNMENT", op.label(), k, fmt.Sprintf("the body field %s=%v, which the schema does not take, was applied\n%s", k, injected[k], evid))
	}
	return false, nil
}

// copyMapWith returns a copy of m with the entries of add set.
func copyMapWith(m, add map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(add))
	for k, x := range m {
		out[k] = x
	}
	for k, x := range add {
		out[k] = x
	}
	return out
}
