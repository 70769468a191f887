package meta_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/channel/meta/metatest"
)

type intake struct {
	batches []channel.Batch
	counts  map[string]int
	fail    error
}

func (i *intake) Ingest(_ context.Context, _ string, b []channel.Batch) error {
	if i.fail != nil {
		return i.fail
	}
	i.batches = append(i.batches, b...)
	return nil
}

func (i *intake) Count(_, outcome string, n int) { i.counts[outcome] += n }

// TestReceiver walks the answers Meta acts on: the handshake, 413, 401
// (nothing stored), 200 for an unusable signed body, 200 once stored with
// skipped items counted, 500 when storing fails.
func TestReceiver(t *testing.T) {
	const secret, token = "app-secret", "verify-me"
	in := &intake{counts: map[string]int{}}
	rc := meta.Receiver{Name: "fakeapi", Title: "Fake", RouteKey: "route", AppSecret: secret, VerifyToken: token}
	mux := http.NewServeMux()
	rc.Mount(mux, in, func(_ context.Context, body []byte) ([]channel.Batch, []meta.Skip, error) {
		if string(body) == "junk" {
			return nil, nil, errors.New("not a notification")
		}
		return []channel.Batch{{Route: string(body)}}, []meta.Skip{{Route: string(body), Reason: "odd"}}, nil
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, url := t.Context(), srv.URL+"/webhooks/fakeapi"

	if status, answer, err := metatest.Handshake(ctx, url, token, "42"); err != nil || status != http.StatusOK || string(answer) != "42" {
		t.Fatalf("handshake: %d %q %v", status, answer, err)
	}
	if status, _, _ := metatest.Handshake(ctx, url, "guess", "42"); status != http.StatusForbidden {
		t.Fatalf("handshake with a wrong token: %d, want 403", status)
	}
	if status, _, _ := metatest.Deliver(ctx, url, secret, bytes.Repeat([]byte(" "), meta.MaxBodyBytes+1)); status != http.StatusRequestEntityTooLarge || in.counts["too_large"] != 1 {
		t.Fatalf("over 1 MiB: %d %v", status, in.counts)
	}
	if status, _, _ := metatest.Deliver(ctx, url, "wrong", []byte("123")); status != http.StatusUnauthorized || in.counts["bad_signature"] != 1 || len(in.batches) != 0 {
		t.Fatalf("bad signature: %d %v, stored %v", status, in.counts, in.batches)
	}
	if status, _, _ := metatest.Deliver(ctx, url, secret, []byte("junk")); status != http.StatusOK || in.counts["malformed"] != 1 {
		t.Fatalf("unusable body: %d %v", status, in.counts)
	}
	if status, answer, _ := metatest.Deliver(ctx, url, secret, []byte("123")); status != http.StatusOK || string(answer) != `{"status":"received"}` ||
		len(in.batches) != 1 || in.batches[0].Route != "123" || in.counts["skipped"] != 1 {
		t.Fatalf("good body: %d %s, batches %v, counts %v", status, answer, in.batches, in.counts)
	}
	in.fail = errors.New("database down")
	if status, _, _ := metatest.Deliver(ctx, url, secret, []byte("123")); status != http.StatusInternalServerError {
		t.Fatalf("storing failed: %d, want 500 so Meta redelivers", status)
	}
}
