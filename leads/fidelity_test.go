package leads_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// report finds one channel's entry in the answer's channels list.
func report(t *testing.T, out envelope, ch string) (written, deliverable bool, to, reason string) {
	t.Helper()
	if out.Data == nil {
		t.Fatal("no data in the answer")
	}
	for _, c := range out.Data.Channels {
		if c.Channel == ch {
			return c.Written, c.Deliverable, c.To, c.Reason
		}
	}
	t.Fatalf("no %s entry in channels: %+v", ch, out.Data.Channels)
	return
}

// TestSeedPhoneNumberIsNotDropped: the seed's own example number passes
// validation (7+ digits) but is no reachable number (+1 needs ten more
// digits). The WhatsApp content is still written, as the seed says for a
// lead with a phone number, and the answer says why it cannot be sent.
func TestSeedPhoneNumberIsNotDropped(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		res, out := e.followUp(e.key, e.body(map[string]any{"phone_number": "+1234567890"}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if w := out.Data.Messages["whatsapp"]; w.Message == "" || w.Title == "" {
			t.Fatalf("whatsapp content dropped: %s", res.Body)
		}
		written, deliverable, _, reason := report(t, out, "whatsapp")
		if !written || deliverable || !strings.Contains(reason, "+1234567890") || !strings.Contains(reason, "too short") {
			t.Fatalf("whatsapp report: written %v deliverable %v reason %q", written, deliverable, reason)
		}
		if written, deliverable, to, _ := report(t, out, "email"); !written || !deliverable || to != "jane@acme.com" {
			t.Fatalf("email report: %v %v %q", written, deliverable, to)
		}
		// Without a visitor, notification and web are written but cannot be shown.
		if written, deliverable, _, reason := report(t, out, "web"); !written || deliverable || !strings.Contains(reason, "visitor") {
			t.Fatalf("web report: %v %v %q", written, deliverable, reason)
		}
	})
}

// TestNationalNumberReadInSiteCountry: a number written without its
// country code is read in the country of the site's WhatsApp line
// (Brazil), and the sequence's WhatsApp step reaches the Graph API as the
// site's template to that number, at the interval "every 2-3 days" was
// read as.
func TestNationalNumberReadInSiteCountry(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{graph: true})
		start := e.clk.Now()
		res, out := e.followUp(e.key, e.body(map[string]any{"phone_number": "(11) 97777-1234", "followUpInterval": "every 2-3 days", "schedule": true}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		written, deliverable, to, reason := report(t, out, "whatsapp")
		if !written || !deliverable || to != "+5511977771234" {
			t.Fatalf("whatsapp report: %v %v %q %q", written, deliverable, to, reason)
		}
		sch := out.Data.Schedule
		if sch == nil || sch.Requested != "every 2-3 days" || sch.Interval != "3 days" || sch.IntervalS != int64(3*day/time.Second) || !strings.Contains(sch.Note, "2-3") {
			t.Fatalf("schedule = %+v", sch)
		}
		seq := out.Data.Sequence
		if seq == nil || seq.Phone != "+5511977771234" || len(seq.Steps) != 2 || seq.Steps[1].Channel != "whatsapp" || !seq.Steps[1].DueAt.Equal(start.Add(3*day)) {
			t.Fatalf("sequence = %+v", seq)
		}
		e.waitStep(0, "sent")
		e.clk.Advance(3 * day)
		e.runDueSteps()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sent, err := e.graph.WaitSent(ctx, 1)
		if err != nil {
			t.Fatalf("nothing reached the Graph API: %v", err)
		}
		m := sent[0]
		if strings.TrimPrefix(m.To, "+") != "5511977771234" || m.Type != "template" || m.Template == nil || m.Template.Name != "lead_follow_up" ||
			len(m.Template.BodyParams) != 2 || m.Template.BodyParams[0] != "Jane" || m.Template.BodyParams[1] != out.Data.Messages["whatsapp"].Title {
			t.Fatalf("sent to %s: %s", m.To, m.Body)
		}
	})
}

// TestFreeTextIntervalIsKept: an interval that cannot be scheduled is no
// error; the text reaches the writers and the answer says which spacing a
// sequence uses.
func TestFreeTextIntervalIsKept(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		res, out := e.followUp(e.key, e.body(map[string]any{"followUpInterval": "whenever suits her", "schedule": true, "visitorId": e.visitor}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		sch := out.Data.Schedule
		if sch == nil || sch.Requested != "whenever suits her" || sch.Interval != leads.DefaultInterval || !strings.Contains(sch.Note, "default") {
			t.Fatalf("schedule = %+v", sch)
		}
		if seq := out.Data.Sequence; seq == nil || seq.IntervalS != int64(3*day/time.Second) || seq.Interval != "3 days" {
			t.Fatalf("sequence = %+v", seq)
		}
		res, out = e.followUp(e.key, e.body(map[string]any{"followUpInterval": "weekly"}))
		if res.Status != 200 || out.Data.Schedule == nil || out.Data.Schedule.Interval != "1 week" || out.Data.Schedule.IntervalS != int64(7*day/time.Second) {
			t.Fatalf("weekly: %d %s", res.Status, res.Body)
		}
	})
}

// TestUndeliverableSequenceRefused: on a site whose only channel is
// WhatsApp without a template, a lead who never wrote cannot be reached
// (the 24-hour window is closed and a reply would stop the sequence):
// scheduling answers NO_VALID_CHANNELS and stores nothing; once the lead
// has written, the step goes as free text. A lead with an
// e-mail address gets a sequence of the e-mail alone, and the answer says
// why WhatsApp is not in it.
func TestUndeliverableSequenceRefused(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{graph: true})
		site := e.create("/api/sites", map[string]any{"name": "WhatsApp only", "whatsapp_channel_id": e.channel})["id"].(string)
		e.create("/api/site-agents", map[string]any{"site_id": site, "role": "sales", "name": "S"})
		lead := e.create("/api/leads", map[string]any{"site_id": site, "name": "Ana Lima", "phone": "+5511966665555"})["id"].(string)
		body := map[string]any{"siteId": site, "leadId": lead, "schedule": true}

		res, out := e.followUp(e.key, body)
		if res.Status != 422 || out.Error == nil || out.Error.Code != leads.CodeNoValidChannels ||
			!strings.Contains(out.Error.Message, "whatsapp") || !strings.Contains(out.Error.Message, "template") {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if r := e.p.Do("GET", "/api/leads/"+lead+"/sequence", e.key, nil); r.Status != 404 {
			t.Fatalf("a sequence was stored: %d %s", r.Status, r.Body)
		}
		if r := e.p.Do("GET", "/api/commands?lead_id="+lead, e.key, nil); r.Status != 200 || strings.Contains(string(r.Body), `"id"`) {
			t.Fatalf("commands were stored: %d %s", r.Status, r.Body)
		}
		jobs, err := e.p.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds(leads.StepArgs{}.Kind()))
		if err != nil || len(jobs.Jobs) != 0 {
			t.Fatalf("step jobs: %d %v", len(jobs.Jobs), err)
		}

		// Without schedule the content is written and the answer says it
		// could not be delivered.
		delete(body, "schedule")
		res, out = e.followUp(e.key, body)
		if res.Status != 200 || out.Data.Messages["whatsapp"].Message == "" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if written, deliverable, _, reason := report(t, out, "whatsapp"); !written || deliverable || !strings.Contains(reason, "24-hour") {
			t.Fatalf("whatsapp report: %v %v %q", written, deliverable, reason)
		}

		// Once the lead has written (two hours ago, before the sequence),
		// the window is open and the WhatsApp step goes at once, as free
		// text, to the Graph API.
		wrote := e.clk.Now().Add(-2 * time.Hour)
		if _, err := e.p.Store.CreateConversation(context.Background(), parley.Conversation{TenantID: e.tenant.ID, Kind: parley.KindCustomer,
			ContactPhone: "+5511966665555", ChannelID: e.channel, LastCustomerMessageAt: &wrote}); err != nil {
			t.Fatal(err)
		}
		body["schedule"] = true
		res, out = e.followUp(e.key, body)
		if res.Status != 200 || out.Data.Sequence == nil || len(out.Data.Sequence.Steps) != 1 || out.Data.Sequence.Steps[0].Channel != "whatsapp" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sent, err := e.graph.WaitSent(ctx, 1)
		if err != nil {
			t.Fatalf("nothing reached the Graph API: %v", err)
		}
		if m := sent[0]; strings.TrimPrefix(m.To, "+") != "5511966665555" || m.Type != "text" || m.Text != out.Data.Messages["whatsapp"].Message {
			t.Fatalf("sent to %s: %s", m.To, m.Body)
		}

		// A lead with an e-mail address, on a site with a sender too: the
		// sequence holds the e-mail only.
		smtpSite := e.site["email"].(map[string]any)
		smtpSite["password"] = e.smtp.Password
		both := e.create("/api/sites", map[string]any{"name": "No template", "whatsapp_channel_id": e.channel, "email": smtpSite})["id"].(string)
		e.create("/api/site-agents", map[string]any{"site_id": both, "role": "sales", "name": "S"})
		lead2 := e.create("/api/leads", map[string]any{"site_id": both, "name": "Bo Ek", "phone": "+5511955554444", "email": "bo@ek.example"})["id"].(string)
		res, out = e.followUp(e.key, map[string]any{"siteId": both, "leadId": lead2, "schedule": true})
		if res.Status != 200 || out.Data.Sequence == nil || len(out.Data.Sequence.Steps) != 1 || out.Data.Sequence.Steps[0].Channel != "email" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if written, deliverable, _, reason := report(t, out, "whatsapp"); !written || deliverable || !strings.Contains(reason, "template") {
			t.Fatalf("whatsapp report: %v %v %q", written, deliverable, reason)
		}
	})
}

// TestOfflineComposerPunctuation: a company ending in a full stop, pain
// points and a summary ending in their own punctuation never give "..",
// "?." or ".?" in the composed text.
func TestOfflineComposerPunctuation(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		for _, extra := range []map[string]any{
			{"followUpType": "email"},
			{"productInterest": nil, "leadData": map[string]any{"pain_points": []string{"slow reporting.", "measuring ROI!"}}},
			{"followUpType": "email", "productInterest": nil, "leadData": map[string]any{"pain_points": []string{}},
				"previousInteractions": []map[string]string{{"date": "2024-04-20", "type": "call", "summary": "Could we start in May?"}}},
		} {
			res, out := e.followUp(e.key, e.body(extra))
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			for ch, c := range out.Data.Messages {
				for _, bad := range []string{"..", "?.", ".?", "!.", ".!", ",."} {
					if strings.Contains(c.Title, bad) || strings.Contains(c.Message, bad) {
						t.Errorf("%v: %s has %q: %q / %q", extra, ch, bad, c.Title, c.Message)
					}
				}
			}
		}
	})
}
