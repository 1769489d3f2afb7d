package vulnapi

import "net/http"

// OpenAPI returns the target's OpenAPI 3.1 document. It is the same for
// every flaw set: the document describes the API as intended (the flaws are
// where the code breaks it).
func (t *Target) OpenAPI() map[string]any {
	type m = map[string]any
	ref := func(name string) m { return m{"$ref": "#/components/schemas/" + name} }
	problem := m{"description": "error", "content": m{"application/problem+json": m{"schema": ref("Problem")}}}
	jsonBody := func(schema m) m { return m{"content": m{"application/json": m{"schema": schema}}} }
	resp := func(desc string, schema m) m {
		r := jsonBody(schema)
		r["description"] = desc
		return r
	}
	htmlResp := func(desc string) m {
		return m{"description": desc, "content": m{"text/html": m{"schema": m{"type": "string"}}}}
	}
	secured := func(scope string) []m { return []m{{"OAuth2": []string{scope}}} }
	errs := func(r m, codes ...string) m {
		for _, c := range codes {
			r[c] = problem
		}
		return r
	}
	idParam := m{"name": "id", "in": "path", "required": true, "schema": m{"type": "integer", "format": "int64", "minimum": 1}}
	op := func(id, summary string, security []m, responses m, extra m) m {
		o := m{"operationId": id, "summary": summary, "security": security, "responses": responses}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	public := []m{}

	paths := m{
		"/token": m{"post": op("login", "OAuth2 password grant", public,
			m{"200": resp("an access token", ref("Token")),
				"400": resp("invalid_request, invalid_grant, invalid_scope or unsupported_grant_type", ref("OAuthError")),
				"413": problem,
				"429": resp("too many failed logins", ref("OAuthError"))},
			m{"requestBody": m{"required": true, "content": m{"application/x-www-form-urlencoded": m{"schema": m{
				"type": "object", "required": []string{"grant_type", "username", "password"},
				"properties": m{
					"grant_type": m{"type": "string", "enum": []string{"password"}},
					"username":   m{"type": "string", "maxLength": 128},
					"password":   m{"type": "string", "format": "password", "maxLength": 256},
					"scope":      m{"type": "string"},
				}}}}}})},
		"/users/me": m{"get": op("getMe", "the caller's profile", secured("items:read"),
			errs(m{"200": resp("the caller", ref("User"))}, "401"), nil)},
		"/protected": m{"get": op("protected", "a greeting naming the caller", secured("items:read"),
			errs(m{"200": resp("greeting", m{"type": "object", "properties": m{"message": m{"type": "string"}}})}, "401"), nil)},
		"/items/": m{
			"get": op("listItems", "the caller's items (admin: all)", secured("items:read"),
				errs(m{"200": resp("items", m{"type": "array", "items": ref("Item")})}, "400", "401", "403", "422"),
				m{"parameters": []m{
					{"name": "sort", "in": "query", "description": "id, name or price", "schema": m{"type": "string", "default": "id"}},
					{"name": "limit", "in": "query", "schema": m{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
					{"name": "offset", "in": "query", "schema": m{"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0}},
				}}),
			"post": op("createItem", "create an item owned by the caller", secured("items:write"),
				errs(m{"201": resp("the new item", ref("Item"))}, "400", "401", "403", "413", "415", "422"),
				m{"requestBody": jsonBodyRequired(ref("ItemIn"))}),
		},
		"/items/{id}": m{
			"parameters": []m{idParam},
			"get": op("getItem", "an item of the caller (others' answer 404)", secured("items:read"),
				errs(m{"200": resp("the item", ref("Item"))}, "401", "403", "404", "422"), nil),
			"put": op("replaceItem", "replace an item of the caller", secured("items:write"),
				errs(m{"200": resp("the item", ref("Item"))}, "400", "401", "403", "404", "413", "415", "422"),
				m{"requestBody": jsonBodyRequired(ref("ItemIn"))}),
			"delete": op("deleteItem", "delete an item of the caller", secured("items:write"),
				errs(m{"204": m{"description": "deleted"}}, "401", "403", "404", "422"), nil),
		},
		"/items/{id}/view": m{"get": op("viewItem", "an HTML page showing an item of the caller", secured("items:read"),
			errs(m{"200": htmlResp("the page"), "404": htmlResp("no such item")}, "401", "403"),
			m{"parameters": []m{idParam}})},
		"/search": m{"get": op("search", "an HTML page of the caller's items whose name contains q", secured("items:read"),
			errs(m{"200": htmlResp("the result page")}, "400", "401", "403", "422"),
			m{"parameters": []m{{"name": "q", "in": "query", "schema": m{"type": "string", "maxLength": 200}}}})},
		"/users": m{"get": op("listUsers", "every user (admin)", secured("users:admin"),
			errs(m{"200": resp("users", m{"type": "array", "items": ref("User")})}, "401", "403"),
			m{"tags": []string{"admin"}, "x-admin": true})},
		"/users/{id}": m{"delete": op("deleteUser", "delete a user (admin)", secured("users:admin"),
			errs(m{"204": m{"description": "deleted"}}, "401", "403", "404", "409", "422"),
			m{"tags": []string{"admin"}, "x-admin": true, "parameters": []m{idParam}})},
		"/.well-known/jwks.json": m{"get": op("jwks", "public keys that verify access tokens", public,
			m{"200": resp("JWK set", m{"type": "object"})}, nil)},
		"/openapi.json": m{"get": op("openapi", "this document", public,
			m{"200": resp("OpenAPI document", m{"type": "object"})}, nil)},
		"/healthz": m{"get": op("healthz", "liveness", public,
			m{"200": resp("alive", m{"type": "object"})}, nil)},
	}

	schemas := m{
		"Item": m{"type": "object", "required": []string{"id", "owner_id", "name", "price"}, "properties": m{
			"id":             m{"type": "integer", "format": "int64", "readOnly": true},
			"owner_id":       m{"type": "integer", "format": "int64", "readOnly": true},
			"name":           m{"type": "string", "minLength": 1, "maxLength": 200},
			"description":    m{"type": "string", "maxLength": 1000},
			"price":          m{"type": "number", "minimum": 0, "maximum": 1000000},
			"tax":            m{"type": []string{"number", "null"}, "minimum": 0, "maximum": 1000000},
			"price_with_tax": m{"type": "number", "readOnly": true},
		}},
		"ItemIn": m{"type": "object", "additionalProperties": false, "required": []string{"name", "price"}, "properties": m{
			"name":        m{"type": "string", "minLength": 1, "maxLength": 200},
			"description": m{"type": "string", "maxLength": 1000},
			"price":       m{"type": "number", "minimum": 0, "maximum": 1000000},
			"tax":         m{"type": "number", "minimum": 0, "maximum": 1000000},
		}},
		"User": m{"type": "object", "properties": m{
			"id":       m{"type": "integer", "format": "int64", "readOnly": true},
			"username": m{"type": "string"},
			"role":     m{"type": "string", "enum": []string{"user", "admin"}, "readOnly": true},
		}},
		"Token": m{"type": "object", "properties": m{
			"access_token": m{"type": "string"}, "token_type": m{"type": "string"},
			"expires_in": m{"type": "integer"}, "scope": m{"type": "string"},
		}},
		"OAuthError": m{"type": "object", "properties": m{"error": m{"type": "string"}, "error_description": m{"type": "string"}}},
		"Problem": m{"type": "object", "properties": m{
			"type": m{"type": "string"}, "title": m{"type": "string"}, "status": m{"type": "integer"},
			"detail": m{"type": "string"}, "errors": m{"type": "array", "items": m{"type": "object"}},
		}},
	}

	return m{
		"openapi": "3.1.0",
		"info":    m{"title": "vulnapi (a deliberately vulnerable test target)", "version": "1.0.0"},
		"paths":   paths,
		"components": m{
			"schemas": schemas,
			"securitySchemes": m{"OAuth2": m{"type": "oauth2", "description": "JWT bearer access tokens (see /.well-known/jwks.json)",
				"flows": m{"password": m{"tokenUrl": "/token", "scopes": m{
					"items:read":  "read own items",
					"items:write": "create, change and delete own items",
					"users:admin": "administer users",
				}}}}},
		},
	}
}

func jsonBodyRequired(schema map[string]any) map[string]any {
	return map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
}

func (t *Target) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, t.OpenAPI())
}
