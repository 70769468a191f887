package meta_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/meta"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    *meta.Error
		want string
	}{
		{&meta.Error{API: "whatsapp", HTTPStatus: 400, Code: 131026, Message: "Message Undeliverable", Details: "not on WhatsApp"},
			"whatsapp: HTTP 400 code 131026: Message Undeliverable (not on WhatsApp)"},
		{&meta.Error{API: "instagram", HTTPStatus: 400, Code: 10, Subcode: 2018278, Message: "outside of allowed window"},
			"instagram: HTTP 400 code 10/2018278: outside of allowed window"},
		{&meta.Error{Message: "request failed", Err: context.DeadlineExceeded},
			"meta: no answer: request failed: context deadline exceeded"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":       0,
		"30":     30 * time.Second,
		" 7 ":    7 * time.Second,
		"-5":     0,
		"soon":   0,
		"999999": 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	}
	for v, want := range tests {
		if got := meta.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestCall checks the request Call makes and how it reads a refusal: the
// channel's own codes first, Retry-After capped, the hint without one.
func TestCall(t *testing.T) {
	var gotAuth, gotType, gotPath string
	status, retryAfter := http.StatusBadRequest, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType, gotPath = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.URL.RequestURI()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"error_subcode":33,"error_data":{"details":"slow down"},"fbtrace_id":"AbC"}}`))
	}))
	defer srv.Close()
	g := meta.Graph{API: "instagram", BaseURL: srv.URL + "/", Version: "v23.0", HTTP: srv.Client(),
		Retry:         func(status, code int) bool { return code == 613 || meta.Transient(status, code) },
		Hint:          func(int) time.Duration { return time.Minute },
		MaxRetryAfter: time.Hour,
	}
	err := g.Call(t.Context(), http.MethodPost, "123/messages", nil, "tok", map[string]string{"a": "b"}, &struct{}{})
	var e *meta.Error
	if !errors.As(err, &e) {
		t.Fatalf("Call error = %v, want a *meta.Error", err)
	}
	want := meta.Error{API: "instagram", HTTPStatus: 400, Code: 613, Subcode: 33, Type: "OAuthException",
		Message: "(#613) Calls to this api have exceeded the rate limit.", Details: "slow down", TraceID: "AbC",
		Retryable: true, RetryAfter: time.Minute}
	if *e != want {
		t.Fatalf("Call error = %+v, want %+v", *e, want)
	}
	if gotAuth != "Bearer tok" || gotType != "application/json" || gotPath != "/v23.0/123/messages" {
		t.Fatalf("request: auth %q, content type %q, path %q", gotAuth, gotType, gotPath)
	}
	retryAfter = "7200"
	err = g.Call(t.Context(), http.MethodGet, "123", nil, "tok", nil, &struct{}{})
	if !errors.As(err, &e) || e.RetryAfter != time.Hour || !meta.Retryable(err) || meta.TokenRevoked(err) {
		t.Fatalf("Retry-After 7200 capped at an hour: got %v (wait %v)", err, e.RetryAfter)
	}
	status = http.StatusOK
	var out struct{ Error struct{ Code int } }
	if err := g.Call(t.Context(), http.MethodGet, "123", nil, "tok", nil, &out); err != nil || out.Error.Code != 613 {
		t.Fatalf("2xx answer: %v, decoded %+v", err, out)
	}
}
