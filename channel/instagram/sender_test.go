package instagram_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/instagram/instagramtest"
	"github.com/parleyhq/parley/channel/meta/metatest"
	"github.com/parleyhq/parley/clock"
)

const token = "IGAA-test-token-secret"

func newFake(t *testing.T) (*instagramtest.Fake, *instagram.Client) {
	t.Helper()
	f := instagramtest.New()
	t.Cleanup(f.Close)
	f.AddAccount(instagramtest.Account{ID: account, Token: token, Username: "lima.shop", Name: "Lima Shop"})
	return f, &instagram.Client{BaseURL: f.URL}
}

func sameJSON(t *testing.T, got []byte, wantFile string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "send", wantFile+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("request body\n got: %s\nwant: %s", got, want)
	}
}

func TestSendEachKind(t *testing.T) {
	tests := []struct {
		name string
		out  instagram.Outbound
	}{
		{"text", instagram.Outbound{To: igsid, Text: "We do, in 2–3 days."}},
		{"quick_replies", instagram.Outbound{To: igsid, Text: "How did we do?", QuickReplies: []instagram.QuickReplyOut{
			{Title: "Great", Payload: "CSAT_5"}, {Title: "Poor", Payload: "CSAT_1"}}}},
		{"human_agent", instagram.Outbound{To: igsid, Text: "Sorry for the wait: your parcel left today.", HumanAgent: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t)
			mid, err := c.Send(context.Background(), token, account, tc.out)
			if err != nil {
				t.Fatal(err)
			}
			sent := f.Sent()
			if len(sent) != 1 || sent[0].ID != mid || sent[0].AccountID != account || sent[0].To != igsid {
				t.Fatalf("sent = %+v, mid %q", sent, mid)
			}
			sameJSON(t, sent[0].Body, tc.name)
		})
	}
}

func TestSendRefusedBeforeHTTP(t *testing.T) {
	f, c := newFake(t)
	long := strings.Repeat("a", instagram.MaxText+1)
	for name, out := range map[string]instagram.Outbound{
		"too long":         {To: igsid, Text: long},
		"no recipient":     {Text: "hi"},
		"empty":            {To: igsid},
		"14 quick replies": {To: igsid, Text: "pick", QuickReplies: make([]instagram.QuickReplyOut, 14)},
	} {
		if _, err := c.Send(context.Background(), token, account, out); parley.ErrorCode(err) != parley.CodeValidation {
			t.Errorf("%s: err = %v, want a validation error", name, err)
		}
	}
	if _, err := c.Send(context.Background(), token, "lima.shop", instagram.Outbound{To: igsid, Text: "hi"}); parley.ErrorCode(err) != parley.CodeValidation {
		t.Errorf("username as account id: err = %v", err)
	}
	if n := f.Requests(); n != 0 {
		t.Errorf("%d requests reached the fake", n)
	}
}

// Each error of §5 is classified: the window and a dead token are never
// retried, rate limits and server errors are.
func TestSendErrorsClassified(t *testing.T) {
	p := &instagram.Provider{}
	tests := []struct {
		name      string
		resp      instagramtest.Response
		code      string
		retryable bool
		check     func(error) bool
	}{
		{"outside window", instagramtest.OutsideWindow(), channel.CodeOutsideWindow, false, instagram.OutsideWindow},
		{"token expired", instagramtest.TokenExpired(), "190", false, instagram.TokenRevoked},
		{"rate limit", instagramtest.RateLimited(), "4", true, instagram.Retryable},
		{"server error", instagramtest.ServerError(), "http_500", true, instagram.Retryable},
		{"unknown recipient", instagramtest.Response{Code: 100, Message: "(#100) No matching user found"}, "100", false, nil},
		{"not available", instagramtest.Response{Code: 551, Message: "This person isn't available right now."}, "551", false, nil},
		{"dropped", instagramtest.Response{Drop: true}, "http_0", true, instagram.Retryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t)
			f.Script(tc.resp)
			_, err := c.Send(context.Background(), token, account, instagram.Outbound{To: igsid, Text: "hi"})
			if err == nil {
				t.Fatal("send succeeded")
			}
			fl, ok := p.Classify(err)
			if !ok || fl.Code != tc.code || fl.Retryable != tc.retryable {
				t.Errorf("Classify(%v) = %+v, %v; want code %s retryable %v", err, fl, ok, tc.code, tc.retryable)
			}
			if tc.check != nil && !tc.check(err) {
				t.Errorf("%v not recognised", err)
			}
			if tc.name == "rate limit" && fl.Wait < time.Minute {
				t.Errorf("rate limit wait = %v", fl.Wait)
			}
			if tc.name == "token expired" && !strings.Contains(fl.Reason, "new one") {
				t.Errorf("reason %q does not say the token must be replaced", fl.Reason)
			}
		})
	}
}

func TestGetAccount(t *testing.T) {
	f, c := newFake(t)
	p := &instagram.Provider{Client: c}
	display, name, err := p.GetPhoneNumber(context.Background(), token, account)
	if err != nil || display != "@lima.shop" || name != "Lima Shop" {
		t.Errorf("GetPhoneNumber = %q, %q, %v", display, name, err)
	}
	f.AddAccount(instagramtest.Account{ID: "17841400000000009", Token: "other", Username: "other"})
	if _, _, err := p.GetPhoneNumber(context.Background(), "other", account); err == nil || instagram.Retryable(err) {
		t.Errorf("another account's token: err = %v, want a permanent refusal", err)
	}
	if _, _, err := p.GetPhoneNumber(context.Background(), "revoked", account); !instagram.TokenRevoked(err) {
		t.Errorf("unknown token: err = %v", err)
	}
}

// The provider sends a stored message: split past the limit, interactive
// choices as quick replies, a person's late reply tagged.
func TestProviderSend(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ch := parley.Channel{Type: parley.ChannelInstagram, PhoneNumberID: account, AccessToken: token}
	conv := func(ago time.Duration) parley.Conversation {
		last := now.Add(-ago)
		return parley.Conversation{ContactPhone: parley.InstagramContact(igsid), LastCustomerMessageAt: &last}
	}
	t.Run("split", func(t *testing.T) {
		f, c := newFake(t)
		p := &instagram.Provider{Client: c, Clock: clock.NewFake(now)}
		para := strings.Repeat("word ", 150) // 750 characters
		text := strings.TrimSpace(para) + "\n\n" + strings.TrimSpace(para)
		if _, err := p.Send(context.Background(), ch, conv(time.Hour), parley.Message{Role: parley.RoleAI, Content: text}); err != nil {
			t.Fatal(err)
		}
		sent := f.Sent()
		if len(sent) != 2 || sent[0].Text != strings.TrimSpace(para) || sent[1].Text != strings.TrimSpace(para) {
			t.Fatalf("sent %d parts: %+v", len(sent), sent)
		}
	})
	t.Run("survey as quick replies", func(t *testing.T) {
		f, c := newFake(t)
		p := &instagram.Provider{Client: c, Clock: clock.NewFake(now)}
		m := channel.WithInteractive(parley.Message{Role: parley.RoleAI, Content: "How did we do?"}, channel.Interactive{
			Sections: []channel.Section{{Rows: []channel.Choice{{ID: "csat_5", Title: "5 - Excellent"}, {ID: "csat_1", Title: "1 - A very poor experience"}}}}})
		if _, err := p.Send(context.Background(), ch, conv(time.Hour), m); err != nil {
			t.Fatal(err)
		}
		sent := f.Sent()
		want := []instagram.QuickReplyOut{{ContentType: "text", Title: "5 - Excellent", Payload: "csat_5"},
			{ContentType: "text", Title: "1 - A very poor exp…", Payload: "csat_1"}}
		if len(sent) != 1 || sent[0].Text != "How did we do?" || !reflect.DeepEqual(sent[0].QuickReplies, want) {
			t.Fatalf("sent = %+v", sent)
		}
	})
	t.Run("human agent tag", func(t *testing.T) {
		f, c := newFake(t)
		p := &instagram.Provider{Client: c, Clock: clock.NewFake(now)}
		for _, m := range []struct {
			role parley.Role
			ago  time.Duration
			tag  string
		}{{parley.RoleAgent, 3 * 24 * time.Hour, instagram.TagHumanAgent}, {parley.RoleAgent, time.Hour, ""}} {
			if _, err := p.Send(context.Background(), ch, conv(m.ago), parley.Message{Role: m.role, Content: "hi"}); err != nil {
				t.Fatal(err)
			}
		}
		sent := f.Sent()
		if len(sent) != 2 || sent[0].Tag != instagram.TagHumanAgent || sent[1].Tag != "" {
			t.Fatalf("tags = %+v", sent)
		}
	})
	t.Run("template refused", func(t *testing.T) {
		f, c := newFake(t)
		p := &instagram.Provider{Client: c}
		_, err := p.Send(context.Background(), ch, conv(time.Hour), parley.Message{Template: &parley.Template{Name: "x", Language: "en"}})
		if parley.ErrorCode(err) != parley.CodeInvalid || f.Requests() != 0 {
			t.Errorf("err = %v, requests %d", err, f.Requests())
		}
	})
}

func TestSplitText(t *testing.T) {
	if got := instagram.SplitText("short", 10); !reflect.DeepEqual(got, []string{"short"}) {
		t.Errorf("short = %q", got)
	}
	if got := instagram.SplitText("aaaa bbbb cccc", 9); !reflect.DeepEqual(got, []string{"aaaa", "bbbb cccc"}) {
		t.Errorf("words = %q", got)
	}
	if got := instagram.SplitText("ééééééé", 3); !reflect.DeepEqual(got, []string{"ééé", "ééé", "é"}) {
		t.Errorf("runes = %q", got)
	}
}

// intake records what the webhook handler hands over.
type intake struct {
	batches []channel.Batch
	counts  map[string]int
}

func (i *intake) Ingest(ctx context.Context, provider string, b []channel.Batch) error {
	i.batches = append(i.batches, b...)
	return nil
}
func (i *intake) Count(provider, outcome string, n int) { i.counts[outcome] += n }

func TestWebhook(t *testing.T) {
	const secret = "app-secret"
	p := &instagram.Provider{AppSecret: secret, VerifyToken: "verify-me"}
	mux := http.NewServeMux()
	in := &intake{counts: map[string]int{}}
	p.Mount(mux, in)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()

	if status, answer, err := metatest.Handshake(ctx, srv.URL+"/webhooks/instagram", "verify-me", "1158201444"); err != nil || status != http.StatusOK || string(answer) != "1158201444" {
		t.Fatalf("handshake: %d %q %v", status, answer, err)
	}
	if status, _, err := metatest.Handshake(ctx, srv.URL+"/webhooks/instagram", "guess", "1"); err != nil || status != http.StatusForbidden {
		t.Fatalf("handshake with a wrong token: %d %v", status, err)
	}

	body := fixture(t, "batch_two_accounts")
	if status, _, _ := instagramtest.Deliver(ctx, srv.URL+"/webhooks/instagram", "wrong-secret", body); status != http.StatusUnauthorized {
		t.Errorf("bad signature: %d", status)
	}
	if len(in.batches) != 0 || in.counts["bad_signature"] != 1 {
		t.Fatalf("stored after a bad signature: %+v", in)
	}
	if status, _, _ := instagramtest.Deliver(ctx, srv.URL+"/webhooks/instagram", secret, body); status != http.StatusOK {
		t.Fatalf("good signature: %d", status)
	}
	if len(in.batches) != 2 || in.batches[0].Route != account || len(in.batches[0].Messages) != 2 || in.batches[1].Route != "17841400000000009" {
		t.Fatalf("batches = %+v", in.batches)
	}
	if m := in.batches[0].Messages[0]; m.Sender != igsid || m.ProviderMessageID != "aWdfZAG1faXRlbTo5" {
		t.Errorf("inbox message = %+v", m)
	}
	in.batches = nil
	for _, name := range []string{"read", "deleted", "echo"} {
		if status, _, _ := instagramtest.Deliver(ctx, srv.URL+"/webhooks/instagram", secret, fixture(t, name)); status != http.StatusOK {
			t.Fatalf("%s: %d", name, status)
		}
	}
	if len(in.batches) != 2 || len(in.batches[0].Statuses) != 1 || in.batches[0].Statuses[0].Status != parley.StatusRead ||
		!reflect.DeepEqual(in.batches[1].Deleted, []string{"aWdfZAG1faXRlbTox"}) || in.counts["echo"] != 1 {
		t.Errorf("read/deleted/echo: %+v counts %v", in.batches, in.counts)
	}
	if status, _, _ := instagramtest.Deliver(ctx, srv.URL+"/webhooks/instagram", secret, fixture(t, "malformed")); status != http.StatusOK || in.counts["malformed"] != 1 {
		t.Errorf("malformed: %d %v", status, in.counts)
	}
}
