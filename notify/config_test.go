package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley"
)

func TestEveryTypeIsConfigured(t *testing.T) {
	t.Parallel()
	want := map[parley.NotificationType][2][]string{
		parley.NotificationQuestion: {{"question"}, {"answer"}},
		parley.NotificationSupport:  {{"support_request_reason"}, {"agent_response_to_customer", "resolution_notes"}},
	}
	for typ, fields := range want {
		s, ok := SpecOf(typ)
		if !ok {
			t.Fatalf("%s is not configured", typ)
		}
		if got := names(s.Requested); got != strings.Join(fields[0], ", ") {
			t.Errorf("%s requests %s", typ, got)
		}
		if got := names(s.Answered); got != strings.Join(fields[1], ", ") {
			t.Errorf("%s answers %s", typ, got)
		}
		if s.AllowMultiple || s.RequestTo != PartyStaff || s.AnswerTo != PartyCustomer || !hasField(s.Answered, s.CustomerField) ||
			s.Purposes[parley.NotificationRequested] == "" || s.Purposes[parley.NotificationAnswered] == "" {
			t.Errorf("%s is misconfigured: %+v", typ, s)
		}
		if _, err := s.resolved(); err != nil {
			t.Errorf("%s answer schema: %v", typ, err)
		}
	}
	if _, ok := SpecOf("user_complaint"); ok {
		t.Fatal("an unknown type is configured")
	}
}

// FuzzValidateAnswer: whatever JSON comes in, validation never panics, and
// what it accepts is exactly the answered fields, trimmed, the required
// ones not blank, none too long.
func FuzzValidateAnswer(f *testing.F) {
	f.Add(0, []byte(`{"answer":"yes"}`))
	f.Add(1, []byte(`{"agent_response_to_customer":"ok","resolution_notes":""}`))
	for _, typ := range Types() {
		spec, _ := SpecOf(typ)
		rs, err := spec.resolved()
		if err != nil || rs == nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, which int, body []byte) {
		types := Types()
		spec, _ := SpecOf(types[uint(which)%uint(len(types))])
		var in map[string]any
		if json.Unmarshal(body, &in) != nil {
			return
		}
		out, err := spec.ValidateAnswer(in)
		if err != nil {
			if parley.ErrorCode(err) != parley.CodeValidation {
				t.Fatalf("a bad answer gave %v, want a validation error", err)
			}
			return
		}
		for k := range in {
			if !hasField(spec.Answered, k) {
				t.Fatalf("accepted an unknown field %q", k)
			}
		}
		for _, f := range spec.Answered {
			v, ok := out[f.Name]
			if !f.Optional && (!ok || strings.TrimSpace(v) == "") {
				t.Fatalf("accepted a blank %s: %q", f.Name, v)
			}
			if v != strings.TrimSpace(v) || utf8.RuneCountInString(v) > f.MaxLength || !utf8.ValidString(v) {
				t.Fatalf("accepted %s = %q", f.Name, v)
			}
		}
		// Validating the output again accepts it unchanged.
		again := map[string]any{}
		for k, v := range out {
			again[k] = v
		}
		out2, err := spec.ValidateAnswer(again)
		if err != nil || len(out2) != len(out) {
			t.Fatalf("the accepted answer %v does not validate again: %v", out, err)
		}
	})
}
