package vulnapi

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (t *Target) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, h) }
	withCORS := func(method, path string, flaw Flaw, h http.HandlerFunc) {
		handle(method+" "+path, t.cors(flaw, h))
		if t.flaws.Has(flaw) {
			handle("OPTIONS "+path, t.cors(flaw, h))
		}
	}

	handle("POST /token", t.handleToken)
	handle("GET /.well-known/jwks.json", t.handleJWKS)
	handle("GET /openapi.json", t.handleOpenAPI)
	handle("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})

	withCORS("GET", "/users/me", FlawCORSReflect, t.handleMe)
	withCORS("GET", "/protected", FlawCORSWildcard, t.handleProtected)
	withCORS("GET", "/items/{$}", FlawCORSNull, t.handleListItems)
	handle("POST /items/{$}", t.handleCreateItem)
	handle("GET /items/{id}", t.handleGetItem)
	handle("PUT /items/{id}", t.handlePutItem)
	handle("DELETE /items/{id}", t.handleDeleteItem)
	handle("GET /items/{id}/view", t.handleViewItem)
	handle("GET /search", t.handleSearch)
	handle("GET /users", t.handleListUsers)
	handle("DELETE /users/{id}", t.handleDeleteUser)
	if t.flaws.Has(FlawDebugEndpoint) {
		handle("GET /debug/pprof/{$}", t.handlePprof)
		handle("GET /debug/pprof/{name}", t.handlePprof)
	}
	handle("/", func(w http.ResponseWriter, _ *http.Request) {
		t.problem(w, http.StatusNotFound, "no such resource")
	})
	return t.recoverer(t.headers(t.bodyLimit(mux)))
}

// ---- users ----

type userOut struct {
	ID           int64  `json:"id"`
	Username     string `json:"username"`
	Role         string `json:"role"`
	PasswordHash string `json:"password_hash,omitempty"`
}

func (t *Target) handleMe(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:read")
	if p == nil {
		return
	}
	out := userOut{ID: p.ID, Username: p.Username, Role: p.Role}
	if t.flaws.Has(FlawSecretField) {
		_ = t.db.QueryRowContext(r.Context(), `SELECT password_hash FROM users WHERE id = ?`, p.ID).Scan(&out.PasswordHash)
	}
	writeJSON(w, http.StatusOK, out)
}

func (t *Target) handleProtected(w http.ResponseWriter, r *http.Request) {
	if t.flaws.Has(FlawAuthGarbageToken) {
		// The bug: "is there a bearer token?" stands in for "is it valid?".
		raw, ok := bearer(r)
		if !ok || raw == "" {
			t.problem(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		name := "user"
		if p, err := t.principalFor(r.Context(), raw); err == nil {
			name = p.Username
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, " + name})
		return
	}
	p := t.require(w, r, "items:read")
	if p == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, " + p.Username})
}

func (t *Target) handleListUsers(w http.ResponseWriter, r *http.Request) {
	var p *principal
	if t.flaws.Has(FlawBFLA) {
		p = t.authenticate(w, r) // the bug: authenticated is taken for authorized
	} else {
		p = t.require(w, r, "users:admin")
	}
	if p == nil {
		return
	}
	rows, err := t.db.QueryContext(r.Context(), `SELECT id, username, role FROM users ORDER BY id`)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer rows.Close()
	out := []userOut{}
	for rows.Next() {
		var u userOut
		if err := rows.Scan(&u.ID, &u.Username, &u.Role); err != nil {
			t.problem(w, http.StatusInternalServerError, "internal error")
			return
		}
		out = append(out, u)
	}
	writeJSON(w, http.StatusOK, out)
}

func (t *Target) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "users:admin")
	if p == nil {
		return
	}
	id, ok := t.pathID(w, r)
	if !ok {
		return
	}
	if id == p.ID {
		t.problem(w, http.StatusConflict, "an admin cannot delete themselves")
		return
	}
	res, err := t.db.ExecContext(r.Context(), `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.problem(w, http.StatusNotFound, "no such user")
		return
	}
	_, _ = t.db.ExecContext(r.Context(), `DELETE FROM items WHERE owner_id = ?`, id)
	w.WriteHeader(http.StatusNoContent)
}

// ---- items ----

type item struct {
	ID           int64    `json:"id"`
	OwnerID      int64    `json:"owner_id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Price        float64  `json:"price"`
	Tax          *float64 `json:"tax"`
	PriceWithTax float64  `json:"price_with_tax"`
}

const itemColumns = `id, owner_id, name, description, price, tax`

func scanItem(s interface{ Scan(...any) error }) (item, error) {
	var it item
	var tax sql.NullFloat64
	if err := s.Scan(&it.ID, &it.OwnerID, &it.Name, &it.Description, &it.Price, &tax); err != nil {
		return it, err
	}
	it.PriceWithTax = it.Price
	if tax.Valid {
		it.Tax = &tax.Float64
		it.PriceWithTax += tax.Float64
	}
	return it, nil
}

// itemIn is the body of POST /items/ and PUT /items/{id}. OwnerID is not
// part of the schema: it is read only to refuse it (or, under
// FlawMassAssignment, to apply it).
type itemIn struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Price       *float64 `json:"price"`
	Tax         *float64 `json:"tax"`
	OwnerID     *int64   `json:"owner_id"`
}

// decodeItem reads and validates an item body; it writes the error.
func (t *Target) decodeItem(w http.ResponseWriter, r *http.Request, create bool) (*itemIn, bool) {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		t.problem(w, http.StatusUnsupportedMediaType, "the body must be application/json")
		return nil, false
	}
	body, ok := t.readBody(w, r)
	if !ok {
		return nil, false
	}
	if create && t.flaws.Has(FlawInput5xx) {
		// The bug: a type assertion on untyped JSON, before validation.
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			_ = m["price"].(float64) + 0 // panics when price is missing or not a number
		}
	}
	var in itemIn
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"body." + ute.Field, "expected " + ute.Type.String()})
			return nil, false
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"body", "unknown field"})
			return nil, false
		}
		t.problem(w, http.StatusBadRequest, "the body is not valid JSON")
		return nil, false
	}
	if d.More() {
		t.problem(w, http.StatusBadRequest, "the body is not valid JSON")
		return nil, false
	}
	var errs []fieldError
	if in.OwnerID != nil && !(create && t.flaws.Has(FlawMassAssignment)) {
		errs = append(errs, fieldError{"body.owner_id", "unknown field"})
	}
	if in.Name == nil || *in.Name == "" || utf8.RuneCountInString(*in.Name) > 200 || !utf8.ValidString(*in.Name) {
		errs = append(errs, fieldError{"body.name", "required, 1 to 200 characters"})
	}
	if in.Description != nil && (!utf8.ValidString(*in.Description) ||
		(utf8.RuneCountInString(*in.Description) > 1000 && !t.flaws.Has(FlawBodyOversized))) {
		errs = append(errs, fieldError{"body.description", "at most 1000 characters"})
	}
	if in.Price == nil || *in.Price < 0 || *in.Price > 1e6 {
		errs = append(errs, fieldError{"body.price", "required, 0 to 1000000"})
	}
	if in.Tax != nil && (*in.Tax < 0 || *in.Tax > 1e6) {
		errs = append(errs, fieldError{"body.tax", "0 to 1000000"})
	}
	if len(errs) > 0 {
		t.problem(w, http.StatusUnprocessableEntity, "validation failed", errs...)
		return nil, false
	}
	if in.Description == nil {
		empty := ""
		in.Description = &empty
	}
	return &in, true
}

func (t *Target) handleCreateItem(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:write")
	if p == nil {
		return
	}
	in, ok := t.decodeItem(w, r, true)
	if !ok {
		return
	}
	owner := p.ID
	if in.OwnerID != nil && t.flaws.Has(FlawMassAssignment) {
		owner = *in.OwnerID // the bug: a body field decides the owner
	}
	if t.flaws.Has(FlawSQLiTime) {
		// The bug: a statistics query built from the name; its result and
		// its errors are only logged, so only its duration shows.
		var n int
		q := "SELECT count(*) FROM items WHERE owner_id = " + strconv.FormatInt(p.ID, 10) + " AND name = '" + *in.Name + "'"
		err := t.db.QueryRowContext(r.Context(), q).Scan(&n)
		t.log.Debug("same-name items", "count", n, "err", err)
	}
	res, err := t.db.ExecContext(r.Context(), `INSERT INTO items (owner_id, name, description, price, tax) VALUES (?, ?, ?, ?, ?)`,
		owner, *in.Name, *in.Description, *in.Price, in.Tax)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	id, _ := res.LastInsertId()
	it, err := t.itemByID(r.Context(), id)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Location", "/items/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusCreated, it)
}

func (t *Target) itemByID(ctx context.Context, id int64) (item, error) {
	return scanItem(t.db.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items WHERE id = ?`, id))
}

// queryInt reads an optional integer query parameter within [min, max].
func (t *Target) queryInt(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query()[name]
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(v[0])
	if len(v) > 1 || err != nil || n < lo || n > hi {
		t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"query." + name, fmt.Sprintf("an integer from %d to %d, once", lo, hi)})
		return 0, false
	}
	return n, true
}

func (t *Target) handleListItems(w http.ResponseWriter, r *http.Request) {
	var p *principal
	if t.flaws.Has(FlawAuthMissing) && r.Header.Get("Authorization") == "" {
		p = &principal{Role: "admin", Scopes: roleScopes("admin")} // the bug: no credentials, no filter
	} else if p = t.require(w, r, "items:read"); p == nil {
		return
	}
	q := r.URL.Query()
	for _, v := range q {
		if len(v) > 1 {
			t.problem(w, http.StatusBadRequest, "a query parameter is given twice")
			return
		}
	}
	limit, ok := t.queryInt(w, r, "limit", 20, 1, 100)
	if !ok {
		return
	}
	offset, ok := t.queryInt(w, r, "offset", 0, 0, 1_000_000)
	if !ok {
		return
	}
	sort := q.Get("sort")
	if sort == "" {
		sort = "id"
	}
	if !t.flaws.Has(FlawSQLiError) && sort != "id" && sort != "name" && sort != "price" {
		t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"query.sort", "one of id, name, price"})
		return
	}
	query := `SELECT ` + itemColumns + ` FROM items`
	args := []any{}
	if !p.admin() {
		query += ` WHERE owner_id = ?`
		args = append(args, p.ID)
	}
	// sort is one of three constants here, unless FlawSQLiError is planted.
	query += ` ORDER BY ` + sort + ` LIMIT ? OFFSET ?`
	args = append(args, limit, offset)
	rows, err := t.db.QueryContext(r.Context(), query, args...)
	if err != nil {
		if t.flaws.Has(FlawSQLiError) {
			t.problem(w, http.StatusBadRequest, "query failed: "+err.Error()) // the bug: the SQL error is shown
			return
		}
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer rows.Close()
	out := []item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			break
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil && t.flaws.Has(FlawSQLiError) {
		t.problem(w, http.StatusBadRequest, "query failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// pathID parses {id}; it writes 422 when it is not a positive integer.
func (t *Target) pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"path.id", "a positive integer"})
		return 0, false
	}
	return id, true
}

// ownedItem loads item id as p may see it: its own, or any for an admin,
// or any at all when skipOwner (a BOLA flaw) is set.
func (t *Target) ownedItem(ctx context.Context, p *principal, id int64, skipOwner bool) (item, error) {
	if p.admin() || skipOwner {
		return t.itemByID(ctx, id)
	}
	return scanItem(t.db.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items WHERE id = ? AND owner_id = ?`, id, p.ID))
}

func (t *Target) handleGetItem(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:read")
	if p == nil {
		return
	}
	if t.flaws.Has(FlawSQLiBoolean) {
		// The bug: the id is spliced into the query; any error reads as
		// "not found", so only the truth of a condition shows.
		query := `SELECT ` + itemColumns + ` FROM items WHERE id = ` + r.PathValue("id")
		args := []any{}
		if !p.admin() && !t.flaws.Has(FlawBOLARead) {
			query += ` AND owner_id = ?`
			args = append(args, p.ID)
		}
		it, err := scanItem(t.db.QueryRowContext(r.Context(), query, args...))
		if err != nil {
			t.problem(w, http.StatusNotFound, "no such item")
			return
		}
		writeJSON(w, http.StatusOK, it)
		return
	}
	id, ok := t.pathID(w, r)
	if !ok {
		return
	}
	it, err := t.ownedItem(r.Context(), p, id, t.flaws.Has(FlawBOLARead))
	if err != nil {
		t.problem(w, http.StatusNotFound, "no such item")
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (t *Target) handlePutItem(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:write")
	if p == nil {
		return
	}
	id, ok := t.pathID(w, r)
	if !ok {
		return
	}
	if _, err := t.ownedItem(r.Context(), p, id, t.flaws.Has(FlawBOLAWrite)); err != nil {
		t.problem(w, http.StatusNotFound, "no such item")
		return
	}
	in, ok := t.decodeItem(w, r, false)
	if !ok {
		return
	}
	if _, err := t.db.ExecContext(r.Context(), `UPDATE items SET name = ?, description = ?, price = ?, tax = ? WHERE id = ?`,
		*in.Name, *in.Description, *in.Price, in.Tax, id); err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	it, err := t.itemByID(r.Context(), id)
	if err != nil {
		t.problem(w, http.StatusNotFound, "no such item")
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (t *Target) handleDeleteItem(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:write")
	if p == nil {
		return
	}
	id, ok := t.pathID(w, r)
	if !ok {
		return
	}
	if _, err := t.ownedItem(r.Context(), p, id, t.flaws.Has(FlawBOLADelete)); err != nil {
		t.problem(w, http.StatusNotFound, "no such item")
		return
	}
	if _, err := t.db.ExecContext(r.Context(), `DELETE FROM items WHERE id = ?`, id); err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- HTML pages ----

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>
{{if .Raw}}<p>{{.Raw}}</p>{{else if .Message}}<p>{{.Message}}</p>{{end}}
{{range .Items}}<article><h2>{{.Name}}</h2><p>{{.Description}}</p><p>Price: {{.Price}}</p></article>
{{end}}</body></html>
`

type page struct {
	Title   string
	Message string
	Raw     template.HTML // only ever set under an XSS flaw
	Items   []item
}

func (t *Target) html(w http.ResponseWriter, status int, pg page) {
	var b bytes.Buffer
	if err := t.page.Execute(&b, pg); err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (t *Target) handleViewItem(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:read")
	if p == nil {
		return
	}
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	var it item
	if err == nil && id > 0 {
		it, err = t.ownedItem(r.Context(), p, id, false)
	} else if err == nil {
		err = sql.ErrNoRows
	}
	if err != nil {
		pg := page{Title: "Not found", Message: "There is no such item."}
		if t.flaws.Has(FlawXSSError) {
			pg.Raw = template.HTML("No item with id " + raw + ".") // the bug: raw input as HTML
		}
		t.html(w, http.StatusNotFound, pg)
		return
	}
	t.html(w, http.StatusOK, page{Title: it.Name, Items: []item{it}})
}

func (t *Target) handleSearch(w http.ResponseWriter, r *http.Request) {
	p := t.require(w, r, "items:read")
	if p == nil {
		return
	}
	qs := r.URL.Query()["q"]
	if len(qs) > 1 {
		t.problem(w, http.StatusBadRequest, `query parameter "q" given twice`)
		return
	}
	q := ""
	if len(qs) == 1 {
		q = qs[0]
	}
	if utf8.RuneCountInString(q) > 200 || !utf8.ValidString(q) {
		t.problem(w, http.StatusUnprocessableEntity, "validation failed", fieldError{"query.q", "at most 200 characters"})
		return
	}
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	query := `SELECT ` + itemColumns + ` FROM items WHERE name LIKE ? ESCAPE '\'`
	args := []any{like}
	if !p.admin() {
		query += ` AND owner_id = ?`
		args = append(args, p.ID)
	}
	rows, err := t.db.QueryContext(r.Context(), query+` ORDER BY id LIMIT 50`, args...)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer rows.Close()
	pg := page{Title: "Search", Message: fmt.Sprintf("Results for %q", q)}
	if t.flaws.Has(FlawXSSHTML) {
		pg.Raw = template.HTML(`Results for "` + q + `"`) // the bug: raw input as HTML
	}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			break
		}
		pg.Items = append(pg.Items, it)
	}
	t.html(w, http.StatusOK, pg)
}

// ---- debug ----

// handlePprof is FlawDebugEndpoint: an unauthenticated profile index and
// goroutine dumps (runtime/pprof; net/http/pprof would register itself on
// http.DefaultServeMux).
func (t *Target) handlePprof(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		b.WriteString("<html><head><title>/debug/pprof/</title></head><body>/debug/pprof/<br><p>Types of profiles available:</p><table>")
		for _, pr := range pprof.Profiles() {
			fmt.Fprintf(&b, "<tr><td>%d</td><td><a href=\"%s?debug=1\">%s</a></td></tr>", pr.Count(), pr.Name(), pr.Name())
		}
		b.WriteString("</table></body></html>")
		_, _ = w.Write([]byte(b.String()))
		return
	}
	pr := pprof.Lookup(name)
	if pr == nil {
		t.problem(w, http.StatusNotFound, "unknown profile")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_ = pr.WriteTo(w, 1)
}
