package password

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultMinLength is the minimum password length in characters (NIST SP
// 800-63B: at least 8). It is also the lowest minimum a Policy accepts.
const DefaultMinLength = 8

// commonPasswordsFile is SecLists'
// Passwords/Common-Credentials/10k-most-common.txt (MIT licence), one
// password a line.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords returns the embedded list as a read-only set of folded
// (NFKC, lower-case) passwords, built once on first use. Entries shorter than
// DefaultMinLength are left out: the length rule already refuses them.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 2200)
	for line := range strings.Lines(commonPasswordsFile) {
		w := fold(strings.TrimRight(line, "\r\n"))
		if utf8.RuneCountInString(w) >= DefaultMinLength {
			set[w] = struct{}{}
		}
	}
	return set
})

// fold is the case-insensitive comparison form: NFKC, then lower case.
func fold(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}

// PolicyReason says which rule a password broke.
type PolicyReason string

// The rules of a Policy.
const (
	ReasonNotUTF8   PolicyReason = "not_utf8"
	ReasonTooShort  PolicyReason = "too_short"
	ReasonTooLong   PolicyReason = "too_long"
	ReasonUsername  PolicyReason = "equals_username"
	ReasonCommon    PolicyReason = "common"
	ReasonForbidden PolicyReason = "forbidden_word"
)

// PolicyError is the error of Policy.Check. Its message is meant for the
// user who chose the password and never contains the password.
type PolicyError struct {
	// Reason is the rule that was broken.
	Reason PolicyReason
	// Limit is the minimum length in characters (ReasonTooShort) or the
	// maximum length in bytes (ReasonTooLong), else 0.
	Limit int
}

// Error implements error.
func (e *PolicyError) Error() string {
	switch e.Reason {
	case ReasonNotUTF8:
		return "password must be valid UTF-8 text"
	case ReasonTooShort:
		return fmt.Sprintf("password must be at least %d characters long", e.Limit)
	case ReasonTooLong:
		return fmt.Sprintf("password must be at most %d bytes long", e.Limit)
	case ReasonUsername:
		return "password must not be the same as the username"
	case ReasonCommon:
		return "password is too common; choose one that is harder to guess"
	case ReasonForbidden:
		return "password contains a word that is not allowed here"
	}
	return "password is not allowed"
}

// PolicyOptions configure NewPolicy. The zero value is DefaultPolicy.
type PolicyOptions struct {
	// MinLength is the minimum length in characters (Unicode code points,
	// of the NFKC form and of the password as typed). Default and minimum
	// DefaultMinLength (8); at most MaxPasswordBytes.
	MinLength int
	// Forbidden lists context-specific words (the service's name, its
	// domain, ...) that a password must not contain anywhere. They are
	// compared like common passwords: case-insensitively after NFKC.
	Forbidden []string
}

// Policy checks new passwords per NIST SP 800-63B: at least MinLength
// characters and at most MaxPasswordBytes bytes, no composition rules (no
// demands for digits or symbols), not one of the 10,000 most common
// passwords, not the username, and none of the forbidden words.
//
// Length is measured on the NFKC form that Hasher hashes: the minimum in
// characters (code points), so every script gets the same minimum, the
// maximum in bytes, because bytes are what hashing costs. The minimum must
// also hold for the password as typed, so that a character NFKC expands
// (U+FDFA becomes 18 code points) counts once. Comparisons with
// the common list, the username and the forbidden words fold case after
// NFKC, so "ＰＡＳＳＷＯＲＤ" (fullwidth) is "password".
//
// The zero Policy is DefaultPolicy. A Policy is immutable and safe for
// concurrent use.
type Policy struct {
	minLength int
	forbidden []string // folded
}

// DefaultPolicy returns the policy with a minimum of 8 characters and no
// forbidden words beyond the common-password list.
func DefaultPolicy() *Policy {
	return &Policy{minLength: DefaultMinLength}
}

// NewPolicy returns a policy with opts, or an error for a minimum below 8
// or above MaxPasswordBytes, or for an empty or non-UTF-8 forbidden word.
func NewPolicy(opts PolicyOptions) (*Policy, error) {
	p := &Policy{minLength: opts.MinLength}
	switch {
	case p.minLength == 0:
		p.minLength = DefaultMinLength
	case p.minLength < DefaultMinLength:
		return nil, fmt.Errorf("password: MinLength %d is below the minimum %d", p.minLength, DefaultMinLength)
	case p.minLength > MaxPasswordBytes:
		return nil, fmt.Errorf("password: MinLength %d is above the maximum %d", p.minLength, MaxPasswordBytes)
	}
	for i, w := range opts.Forbidden {
		if !utf8.ValidString(w) {
			return nil, fmt.Errorf("password: forbidden word %d is not valid UTF-8", i)
		}
		f := fold(w)
		if f == "" {
			return nil, fmt.Errorf("password: forbidden word %d is empty", i)
		}
		p.forbidden = append(p.forbidden, f)
	}
	return p, nil
}

// MinLength returns the minimum length in characters.
func (p *Policy) MinLength() int {
	if p.minLength == 0 {
		return DefaultMinLength
	}
	return p.minLength
}

// Check returns nil when password may be chosen by the user named username
// (empty when there is none yet), else a *PolicyError for the first rule it
// breaks, in this order: not UTF-8, too long, too short, equal to the
// username, forbidden word, common password.
func (p *Policy) Check(password, username string) error {
	if !utf8.ValidString(password) {
		return &PolicyError{Reason: ReasonNotUTF8}
	}
	// Refuse oversized input before normalizing it.
	if len(password) > MaxPasswordBytes {
		return &PolicyError{Reason: ReasonTooLong, Limit: MaxPasswordBytes}
	}
	n := norm.NFKC.String(password)
	if len(n) > MaxPasswordBytes {
		return &PolicyError{Reason: ReasonTooLong, Limit: MaxPasswordBytes}
	}
	// Both forms must be long enough: NFKC composes "e"+U+0301 into one
	// character, and expands a ligature such as U+FDFA into 18, which must
	// not turn one typed character into eight.
	if least := p.MinLength(); utf8.RuneCountInString(n) < least || utf8.RuneCountInString(password) < least {
		return &PolicyError{Reason: ReasonTooShort, Limit: least}
	}
	f := strings.ToLower(n)
	if username != "" && len(username) <= MaxPasswordBytes && f == fold(username) {
		return &PolicyError{Reason: ReasonUsername}
	}
	for _, w := range p.forbidden {
		if strings.Contains(f, w) {
			return &PolicyError{Reason: ReasonForbidden}
		}
	}
	if _, ok := commonPasswords()[f]; ok {
		return &PolicyError{Reason: ReasonCommon}
	}
	return nil
}
