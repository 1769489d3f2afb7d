package csrf

import "errors"

// Observer is told of every request the middleware refuses
// (Options.Observer), for metrics. It must be cheap and must not block.
type Observer interface {
	// Rejected reports a refusal's reason: one of the Reason* constants.
	Rejected(reason string)
}

// Reasons of a refusal, as Observer.Rejected reports them: one per
// sentinel error.
const (
	ReasonCrossOrigin  = "cross_origin"
	ReasonMissingToken = "missing_token"
	ReasonBadToken     = "bad_token"
	ReasonFormTooLarge = "form_too_large"
	ReasonBadForm      = "bad_form"
)

// ReasonName is the Reason* constant of an error of Check (ReasonBadToken
// for any other error).
func ReasonName(err error) string {
	switch {
	case errors.Is(err, ErrCrossOrigin):
		return ReasonCrossOrigin
	case errors.Is(err, ErrMissingToken):
		return ReasonMissingToken
	case errors.Is(err, ErrFormTooLarge):
		return ReasonFormTooLarge
	case errors.Is(err, ErrBadForm):
		return ReasonBadForm
	}
	return ReasonBadToken
}

// observed reports a refusal to Options.Observer and returns err.
func (p *Protector) observed(err error) error {
	if err != nil && p.obs != nil {
		p.obs.Rejected(ReasonName(err))
	}
	return err
}
