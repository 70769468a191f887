// Package phone turns the many ways a phone number is written into one key,
// E.164 ("+5511999990000"), so that a customer who writes on WhatsApp, on
// Twilio or through the API is the same customer.
package phone

import (
	"errors"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/parleyhq/parley"
)

// maxInput bounds the input: no phone number, however decorated, is longer,
// and the parser's cost grows with it.
const maxInput = 64

// maxDigits is E.164's limit on country code plus national number.
const maxDigits = 15

// ErrInvalid matches (errors.Is) every *InvalidError.
var ErrInvalid = errors.New("invalid phone number")

// Reason says why a number was refused.
type Reason string

const (
	ReasonEmpty              Reason = "empty"
	ReasonNotANumber         Reason = "not a number"         // letters or symbols a number cannot hold
	ReasonInvalidCountryCode Reason = "invalid country code" // or no country code and no default region
	ReasonTooShort           Reason = "too short"
	ReasonTooLong            Reason = "too long"
	ReasonImpossible         Reason = "impossible number"     // a length no number in its country has
	ReasonExtension          Reason = "extension not allowed" // E.164 has no room for one
)

// InvalidError is returned when raw is not a phone number Parley can key a
// contact by. Input is kept for the caller but left out of Error(), because
// phone numbers are personal data and error strings end up in logs.
type InvalidError struct {
	Input  string
	Reason Reason
	cause  error // the parser's own error, when it gave one
}

func (e *InvalidError) Error() string { return "invalid phone number: " + string(e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Unwrap exposes a validation *parley.Error (so the API answers 4xx with
// validation_failed) and the parser's cause.
func (e *InvalidError) Unwrap() []error {
	errs := []error{parley.FieldError("phone", "%s", e.Reason)}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Normalize returns raw in E.164 form. It accepts:
//
//   - international numbers, formatted or not: "+55 11 99999-0000";
//   - Twilio's addresses: "whatsapp:+5511999990000";
//   - bare digits, as WhatsApp sends them: "5511999990000", read as
//     international first;
//   - national numbers, "(11) 99999-0000", read in defaultRegion (an ISO
//     3166 code such as "BR"; "" accepts international numbers only).
//
// A number is accepted when its length is possible in its country, not only
// when it falls in a range the metadata knows to be allocated: the metadata
// lags behind real allocations, and a refused number is a customer lost.
func Normalize(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) >= len("whatsapp:") && strings.EqualFold(s[:len("whatsapp:")], "whatsapp:") {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	if s == "" {
		return "", &InvalidError{Input: raw, Reason: ReasonEmpty}
	}
	if len(s) > maxInput {
		return "", &InvalidError{Input: raw, Reason: ReasonTooLong}
	}
	if !plausibleChars(s) {
		return "", &InvalidError{Input: raw, Reason: ReasonNotANumber}
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))

	var out string
	var err error
	if allDigits(s) {
		out, err = bareDigits(s, region)
	} else {
		out, err = parse(s, region)
	}
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) {
			ie.Input = raw
		}
		return "", err
	}
	return out, nil
}

// Digits returns an E.164 number the way WhatsApp's Cloud API writes it:
// digits only, no "+".
func Digits(e164 string) string {
	return strings.TrimPrefix(e164, "+")
}

// bareDigits reads a digits-only string, which is ambiguous: WhatsApp's
// "5511999990000" is international, a user's "11999990000" is national.
// A number valid in the metadata wins over one that is merely possible, and
// the international reading wins a tie, since that is what WhatsApp sends.
func bareDigits(s, region string) (string, error) {
	intl, intlErr := parse("+"+s, "")
	if region == "" || (intlErr == nil && valid(intl)) {
		return intl, intlErr
	}
	nat, natErr := parse(s, region)
	switch {
	case natErr == nil && valid(nat):
		return nat, nil
	case intlErr == nil:
		return intl, nil
	case natErr == nil:
		return nat, nil
	}
	return "", intlErr
}

// parse runs the library parser and the checks Parley adds to it.
func parse(s, region string) (string, error) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", &InvalidError{Reason: reasonOf(err), cause: err}
	}
	if num.GetExtension() != "" {
		return "", &InvalidError{Reason: ReasonExtension}
	}
	dropMexicanMobileToken(num)
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", &InvalidError{Reason: ReasonInvalidCountryCode}
	case phonenumbers.TOO_SHORT:
		return "", &InvalidError{Reason: ReasonTooShort}
	case phonenumbers.TOO_LONG:
		return "", &InvalidError{Reason: ReasonTooLong}
	default: // local-only or a length between the allowed ones
		return "", &InvalidError{Reason: ReasonImpossible}
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	if len(out)-1 > maxDigits { // the metadata allows a few national plans more
		return "", &InvalidError{Reason: ReasonTooLong}
	}
	// The result is a key: it must read back as itself. The parser strips
	// national prefixes even after a country code, so a few odd inputs
	// would not; those are refused rather than stored under a moving key.
	again, err := phonenumbers.Parse(out, "")
	if err != nil || phonenumbers.Format(again, phonenumbers.E164) != out {
		return "", &InvalidError{Reason: ReasonImpossible}
	}
	return out, nil
}

// dropMexicanMobileToken removes the "1" Mexico used between the country
// code and mobile numbers until 2019. WhatsApp still writes Mexican users as
// "521…", which is one digit too long for today's plan; without this every
// such customer would be refused, or keyed twice.
func dropMexicanMobileToken(num *phonenumbers.PhoneNumber) {
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if num.GetCountryCode() != 52 || len(nsn) != 11 || nsn[0] != '1' {
		return
	}
	if n, err := strconv.ParseUint(nsn[1:], 10, 64); err == nil {
		num.NationalNumber = &n
	}
}

func valid(e164 string) bool {
	num, err := phonenumbers.Parse(e164, "")
	return err == nil && phonenumbers.IsValidNumber(num)
}

func reasonOf(err error) Reason {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return ReasonInvalidCountryCode
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return ReasonTooShort
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return ReasonTooLong
	}
	return ReasonNotANumber
}

// plausibleChars rejects letters and symbols up front: the library would
// turn "1-800-FLOWERS" into digits and skip leading junk, and a contact key
// must not be guessed from text.
func plausibleChars(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsDigit(r), unicode.IsSpace(r):
		case strings.ContainsRune("+-.()/\u2010\u2011\u2012\u2013\u2014\uff0b", r):
		default:
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
