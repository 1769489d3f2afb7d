package httpapi

import (
	"context"
	"crypto/rand"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

// Register adds every operation of the reference server to api.
func Register(api huma.API, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	d.Limits = d.Limits.withDefaults()
	registerHealth(api, d)
	registerAuth(api, d)
	registerItems(api, d)
}

type statusOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

func registerHealth(api huma.API, d Deps) {
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness", Tags: []string{"health"}, Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness: the store answers", Tags: []string{"health"}, Security: fortapi.Public(),
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if d.Store == nil || d.Store.Ping(ctx) != nil {
			return nil, huma.Error503ServiceUnavailable("the store is not reachable")
		}
		out := &statusOutput{}
		out.Body.Status = "ready"
		return out, nil
	})
}
