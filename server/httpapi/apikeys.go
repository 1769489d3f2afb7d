package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

// NewAPIKeyBody is the body of POST /users/me/api-keys.
type NewAPIKeyBody struct {
	Name   string   `json:"name" minLength:"1" maxLength:"100" doc:"Your label for the key (1 to 100 bytes, no control characters)." example:"ci deploy"`
	Scopes []string `json:"scopes" minItems:"1" maxItems:"16" enum:"items:read,items:write,users:admin,keys:admin" doc:"The scopes the key grants: a subset of the scopes of the credential creating it (403 otherwise)." example:"[\"items:read\"]"`
	// A pointer: absent means the key does not expire.
	ExpiresAt    *time.Time `json:"expires_at,omitempty" doc:"When the key stops working (RFC 3339, at least a minute ahead). Absent: never; rotate it anyway."`
	AllowedCIDRs []string   `json:"allowed_cidrs,omitempty" maxItems:"32" doc:"Client networks the key may be used from (203.0.113.0/24, 2001:db8::/32). Absent: any."`
}

// APIKeyInfo describes a key; never the key or its hash.
type APIKeyInfo struct {
	ID           string     `json:"id" doc:"The key's public id: the 16 characters after fak_."`
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	AllowedCIDRs []string   `json:"allowed_cidrs,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty" doc:"The last recorded use (recorded at most once a minute)."`
	Expired      bool       `json:"expired"`
}

// NewAPIKeyInfo is the answer of POST /users/me/api-keys: the key, shown
// this once.
type NewAPIKeyInfo struct {
	APIKeyInfo
	Key string `json:"key" doc:"The API key (fak_...), shown only now: only its hash is stored. Send it as X-API-Key or Authorization: Bearer, never in a URL."`
}

type apiKeysAPI struct{ Deps }

type createAPIKeyInput struct {
	rawInput
	Body NewAPIKeyBody
}

type createAPIKeyOutput struct{ Body NewAPIKeyInfo }

type listAPIKeysOutput struct {
	Body struct {
		APIKeys []APIKeyInfo `json:"api_keys"`
	}
}

type revokeMyAPIKeyInput struct {
	KeyID string `path:"key_id" minLength:"16" maxLength:"16" doc:"The key's id."`
}

type userAPIKeysInput struct {
	ID string `path:"id" format:"uuid" maxLength:"36" doc:"User id."`
}

type revokeUserAPIKeyInput struct {
	ID    string `path:"id" format:"uuid" maxLength:"36" doc:"User id."`
	KeyID string `path:"key_id" minLength:"16" maxLength:"16" doc:"The key's id."`
}

func (h *apiKeysAPI) info(k server.APIKey) APIKeyInfo {
	out := APIKeyInfo{ID: k.ID, Name: k.Name, Scopes: k.Scopes, AllowedCIDRs: k.AllowedCIDRs, CreatedAt: k.CreatedAt}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
		out.Expired = !h.Now().Before(t)
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		out.LastUsedAt = &t
	}
	return out
}

func (h *apiKeysAPI) create(ctx context.Context, in *createAPIKeyInput) (*createAPIKeyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Scheme == fortapi.APIKeyScheme { // not declared: unreachable, refused anyway
		return nil, huma.Error403Forbidden("an API key cannot create API keys")
	}
	nk := authn.NewAPIKey{Name: in.Body.Name, Scopes: in.Body.Scopes, AllowedCIDRs: in.Body.AllowedCIDRs}
	if in.Body.ExpiresAt != nil {
		nk.ExpiresAt = *in.Body.ExpiresAt
	}
	key, stored, err := h.Auth.CreateAPIKey(ctx, p, nk, h.clientIP(in.req))
	var se *authn.APIKeyScopeError
	var ie *authn.APIKeyInputError
	switch {
	case err == nil:
		return &createAPIKeyOutput{Body: NewAPIKeyInfo{APIKeyInfo: h.info(stored), Key: key}}, nil
	case errors.As(err, &se):
		return nil, huma.Error403Forbidden(se.Error())
	case errors.As(err, &ie):
		return nil, huma.Error422UnprocessableEntity("the key is not acceptable",
			&huma.ErrorDetail{Location: "body." + ie.Field, Message: ie.Reason})
	case errors.Is(err, server.ErrTooManyAPIKeys):
		return nil, huma.Error409Conflict(err.Error())
	case errors.Is(err, server.ErrConflict):
		return nil, huma.Error403Forbidden("your account changed (disabled, role or password) while the key was created; log in again")
	default:
		return nil, userErr(err)
	}
}

func (h *apiKeysAPI) listOf(ctx context.Context, userID string) (*listAPIKeysOutput, error) {
	keys, err := h.Auth.ListAPIKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &listAPIKeysOutput{}
	out.Body.APIKeys = make([]APIKeyInfo, 0, len(keys))
	for _, k := range keys {
		out.Body.APIKeys = append(out.Body.APIKeys, h.info(k))
	}
	return out, nil
}

func (h *apiKeysAPI) listMine(ctx context.Context, _ *struct{}) (*listAPIKeysOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	return h.listOf(ctx, p.Subject)
}

func (h *apiKeysAPI) revokeMine(ctx context.Context, in *revokeMyAPIKeyInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	return h.revoke(ctx, p.Subject, in.KeyID, "its owner")
}

func (h *apiKeysAPI) revoke(ctx context.Context, userID, keyID, actor string) (*struct{}, error) {
	if !apikey.ValidID(keyID) {
		return nil, huma.Error404NotFound("no such API key")
	}
	err := h.Auth.RevokeAPIKey(ctx, userID, keyID, actor)
	if errors.Is(err, server.ErrNotFound) {
		return nil, huma.Error404NotFound("no such API key")
	}
	return nil, err
}

func (h *apiKeysAPI) listUser(ctx context.Context, in *userAPIKeysInput) (*listAPIKeysOutput, error) {
	if !server.ValidID(in.ID) {
		return nil, huma.Error404NotFound("no such user")
	}
	if _, err := h.Store.GetUser(ctx, in.ID); err != nil {
		return nil, userErr(err)
	}
	return h.listOf(ctx, in.ID)
}

func (h *apiKeysAPI) revokeUser(ctx context.Context, in *revokeUserAPIKeyInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !server.ValidID(in.ID) {
		return nil, huma.Error404NotFound("no such API key")
	}
	return h.revoke(ctx, in.ID, in.KeyID, (&usersAPI{h.Deps}).actor(ctx, p))
}
