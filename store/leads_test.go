package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestSiteAndLeadRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		site, err := s.CreateSite(ctx, parley.Site{TenantID: a.ID, Name: "Acme", URL: "https://acme.example",
			Email:            &parley.EmailSender{Host: "smtp.acme.example", Port: 587, Username: "u", Password: "secret", FromAddress: "sales@acme.example"},
			WhatsAppTemplate: &parley.Template{Name: "lead_follow_up", Language: "en"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSite(ctx, a.ID, site.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email == nil || got.Email.Password != "secret" || got.Email.TLS != parley.TLSStartTLS || got.WhatsAppTemplate.Name != "lead_follow_up" || len(got.SiteKey) < 20 {
			t.Fatalf("site = %+v", got)
		}
		if _, err := s.GetSite(ctx, b.ID, site.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant reads the site: %v", err)
		}
		got.Email = nil
		if err := s.UpdateSite(ctx, got); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetSite(ctx, a.ID, site.ID); got.Email != nil {
			t.Fatalf("e-mail sender not removed: %+v", got.Email)
		}

		lead, err := s.CreateLead(ctx, parley.Lead{TenantID: a.ID, SiteID: site.ID, Name: "Jane", PainPoints: []string{"ROI"}})
		if err != nil {
			t.Fatal(err)
		}
		if l, err := s.GetLead(ctx, a.ID, lead.ID); err != nil || l.PainPoints[0] != "ROI" {
			t.Fatalf("lead = %+v, %v", l, err)
		}
		if err := s.DeleteLead(ctx, b.ID, lead.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant deletes the lead: %v", err)
		}

		sales, _ := s.CreateSiteAgent(ctx, parley.LeadPersona{TenantID: a.ID, SiteID: site.ID, Role: parley.PersonaSales, Name: "First", Active: true})
		user, _ := s.CreateSiteUser(ctx, parley.SiteUser{TenantID: a.ID, SiteID: site.ID, Name: "Maria", Active: true})
		mine, _ := s.CreateSiteAgent(ctx, parley.LeadPersona{TenantID: a.ID, SiteID: site.ID, Role: parley.PersonaSales, Name: "Maria's", UserID: user.ID, Active: true})
		if got, err := s.ActiveSiteAgent(ctx, a.ID, site.ID, parley.PersonaSales, ""); err != nil || got.ID != sales.ID {
			t.Fatalf("default sales agent = %+v, %v", got, err)
		}
		if got, err := s.ActiveSiteAgent(ctx, a.ID, site.ID, parley.PersonaSales, user.ID); err != nil || got.ID != mine.ID {
			t.Fatalf("user's sales agent = %+v, %v", got, err)
		}
		if _, err := s.ActiveSiteAgent(ctx, a.ID, site.ID, parley.PersonaCopywriter, ""); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("copywriter: %v", err)
		}
	})
}

func TestSequenceLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		site, _ := s.CreateSite(ctx, parley.Site{TenantID: tn.ID, Name: "Acme"})
		lead, _ := s.CreateLead(ctx, parley.Lead{TenantID: tn.ID, SiteID: site.ID, Name: "Jane"})
		visitor, _ := s.CreateVisitor(ctx, parley.Visitor{TenantID: tn.ID, SiteID: site.ID, LeadID: lead.ID})
		now := time.Now().UTC().Truncate(time.Microsecond)
		newSeq := func() parley.Sequence {
			return parley.Sequence{TenantID: tn.ID, LeadID: lead.ID, SiteID: site.ID, VisitorID: visitor.ID, CommandID: "c", Interval: "1 day", IntervalS: 86400,
				Messages: map[string]parley.LeadContent{"web": {Title: "T", Message: "M"}},
				Steps:    []parley.SequenceStep{{Position: 0, Channel: "web", DueAt: now}, {Position: 1, Channel: "notification", DueAt: now.Add(24 * time.Hour)}}}
		}
		seq, err := s.CreateSequence(ctx, newSeq())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSequence(ctx, newSeq()); parley.ErrorCode(err) != parley.CodeConflict {
			t.Fatalf("second active sequence: %v, want conflict", err)
		}
		if _, err := s.CreateVisitorMessage(ctx, parley.VisitorMessage{TenantID: tn.ID, SiteID: site.ID, VisitorID: visitor.ID, LeadID: lead.ID,
			SequenceID: seq.ID, Kind: parley.LeadChannelWeb, Title: "T", Message: "M"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.FinishStep(ctx, tn.ID, seq.Steps[0].ID, parley.StepSent, "shown"); !ok || err != nil {
			t.Fatalf("finish step: %v %v", ok, err)
		}
		if ok, _ := s.FinishStep(ctx, tn.ID, seq.Steps[0].ID, parley.StepSent, "again"); ok {
			t.Fatal("a step finished twice")
		}
		if _, err := s.CurrentBanner(ctx, tn.ID, site.ID, visitor.ID); err != nil {
			t.Fatalf("banner: %v", err)
		}
		if ok, err := s.EndSequence(ctx, tn.ID, seq.ID, parley.SequenceCancelled, "test"); !ok || err != nil {
			t.Fatalf("end: %v %v", ok, err)
		}
		got, err := s.GetSequence(ctx, tn.ID, seq.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != parley.SequenceCancelled || got.Steps[0].Status != parley.StepSent || got.Steps[1].Status != parley.StepCancelled || got.EndedAt == nil {
			t.Fatalf("after cancel: %+v", got)
		}
		if _, err := s.CurrentBanner(ctx, tn.ID, site.ID, visitor.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("banner still shown after cancel: %v", err)
		}
		second, err := s.CreateSequence(ctx, newSeq())
		if err != nil {
			t.Fatalf("new sequence after the old ended: %v", err)
		}
		// The latest sequence comes back whole: its own steps, in order,
		// with the detail and time of a finished one.
		if ok, err := s.FinishStep(ctx, tn.ID, second.Steps[0].ID, parley.StepSent, "shown"); !ok || err != nil {
			t.Fatalf("finish step: %v %v", ok, err)
		}
		latest, err := s.LatestSequence(ctx, tn.ID, lead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if latest.ID != second.ID || latest.Status != parley.SequenceActive || len(latest.Steps) != 2 ||
			latest.Steps[0].ID != second.Steps[0].ID || latest.Steps[0].Status != parley.StepSent || latest.Steps[0].Detail != "shown" || latest.Steps[0].DoneAt == nil ||
			latest.Steps[1].Position != 1 || latest.Steps[1].Channel != "notification" || !latest.Steps[1].DueAt.Equal(now.Add(24*time.Hour)) ||
			latest.Steps[1].SequenceID != second.ID || latest.Steps[1].DoneAt != nil || latest.Messages["web"].Message != "M" {
			t.Fatalf("latest sequence = %+v", latest)
		}
		if _, err := s.LatestSequence(ctx, tn.ID, "01a1fec0-0000-7000-8000-000000000000"); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("a lead without a sequence: %v, want not found", err)
		}
		other := newTenant(t, s, "B")
		if _, err := s.GetSequence(ctx, other.ID, second.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant's sequence: %v, want not found", err)
		}
	})
}

func TestLeadRepliedSince(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		since := time.Now().UTC()
		for _, tn := range []parley.Tenant{a, b} {
			conv, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
			if err != nil {
				t.Fatal(err)
			}
			role := parley.RoleAI
			if tn.ID == b.ID {
				role = parley.RoleCustomer // B's customer writes; A's lead has not
			}
			if _, err := s.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: role, Content: "hi",
				Status: parley.StatusReceived, CreatedAt: since.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.LeadRepliedSince(ctx, a.ID, "+5511999990000", since); err != nil || got {
			t.Fatalf("A replied = %v, %v; only the AI wrote", got, err)
		}
		if got, err := s.LeadRepliedSince(ctx, b.ID, "+5511999990000", since); err != nil || !got {
			t.Fatalf("B replied = %v, %v", got, err)
		}
		if got, _ := s.LeadRepliedSince(ctx, b.ID, "+5511999990000", since.Add(time.Hour)); got {
			t.Fatal("a reply before the sequence started counts")
		}
	})
}
