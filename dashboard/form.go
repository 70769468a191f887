package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
)

// Form is a submitted form's values and the errors to show beside its
// fields. A form that failed is shown again with what the user typed.
type Form struct {
	Values map[string]string
	Errors map[string]string
}

func newForm() *Form { return &Form{Values: map[string]string{}, Errors: map[string]string{}} }

// readForm takes the named fields from a POST, trimmed.
func readForm(r *http.Request, fields ...string) *Form {
	f := newForm()
	for _, k := range fields {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	return f
}

// Get returns a value.
func (f *Form) Get(k string) string { return f.Values[k] }

// Fail records an error for a field (the first one stays).
func (f *Form) Fail(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

// Int returns a field's whole number (0 when empty), failing the field
// with msg when it is not one.
func (f *Form) Int(field, msg string) int {
	v := f.Values[field]
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.Fail(field, msg)
	}
	return n
}

// OK reports whether no field failed.
func (f *Form) OK() bool { return len(f.Errors) == 0 }

// Require fails each named field that is empty or longer than max runes.
func (f *Form) Require(max int, fields ...string) {
	for _, k := range fields {
		switch v := f.Values[k]; {
		case v == "":
			f.Fail(k, "Required.")
		case len([]rune(v)) > max:
			f.Fail(k, "Too long (at most "+strconv.Itoa(max)+" characters).")
		}
	}
}

// Max fails each named field longer than max runes.
func (f *Form) Max(max int, fields ...string) {
	for _, k := range fields {
		if len([]rune(f.Values[k])) > max {
			f.Fail(k, "Too long (at most "+strconv.Itoa(max)+" characters).")
		}
	}
}

// Absorb turns a domain error about input (a field error or a conflict)
// into a field message and reports whether it did; other errors are the
// caller's to return. fallback names the field for errors without one.
func (f *Form) Absorb(err error, fallback string) bool {
	var pe *parley.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case parley.CodeValidation, parley.CodeConflict, parley.CodeInvalid:
		field := pe.Field
		if field == "" {
			field = fallback
		}
		f.Fail(field, upperFirst(pe.Message)+".")
		return true
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}
