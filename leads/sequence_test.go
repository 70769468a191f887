package leads_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const day = 24 * time.Hour

// TestScheduledSequenceDelivers follows one sequence through its four
// steps, two days apart, moving the fake clock: the e-mail reaches the
// SMTP server at once, the WhatsApp message is queued in the lead's
// conversation (as the template: the lead never wrote, so the 24-hour
// window is closed), the notification is listed for the visitor and the
// banner is served to the site.
func TestScheduledSequenceDelivers(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true, copywriter: true})
		start := e.clk.Now()
		res, out := e.followUp(e.key, e.body(map[string]any{"schedule": true, "visitorId": e.visitor}))
		if res.Status != 200 || out.Data.Sequence == nil {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		seq := out.Data.Sequence
		if seq.Status != parley.SequenceActive || len(seq.Steps) != 4 || seq.CommandID != *out.Data.CommandIDs.Copywriter {
			t.Fatalf("sequence = %+v", seq)
		}
		for i, ch := range []string{"email", "whatsapp", "notification", "web"} {
			if st := seq.Steps[i]; st.Channel != ch || !st.DueAt.Equal(start.Add(time.Duration(i)*2*day)) {
				t.Fatalf("step %d = %+v", i, st)
			}
		}
		// The later steps wait in River for their time, by the app clock.
		jobs, err := e.p.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds(leads.StepArgs{}.Kind()).States(rivertype.JobStateScheduled))
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs.Jobs) != 3 || !jobs.Jobs[0].ScheduledAt.Equal(start.Add(2*day)) {
			t.Fatalf("scheduled jobs = %d, first at %v", len(jobs.Jobs), jobs.Jobs[0].ScheduledAt)
		}

		// Step 1: e-mail, at once.
		e.waitStep(0, parley.StepSent)
		mails := e.smtp.Received()
		if len(mails) != 1 {
			t.Fatalf("%d mails", len(mails))
		}
		m := mails[0]
		if m.From != "sales@acme.example" || len(m.To) != 1 || m.To[0] != "jane@acme.com" ||
			m.Msg.Header.Get("Subject") != out.Data.Messages["email"].Title || !strings.HasPrefix(m.Msg.Header.Get("Content-Type"), "text/plain") ||
			strings.TrimSpace(m.Body) != out.Data.Messages["email"].Message || !strings.HasPrefix(m.Msg.Header.Get("Message-Id"), "<"+seq.Steps[0].ID+"@acme.example") {
			t.Fatalf("mail = %+v %q", m.Msg.Header, m.Body)
		}
		if strings.Contains(e.p.Logs.String(), e.smtp.Password) {
			t.Fatal("the SMTP password reached the logs")
		}

		// Step 2: WhatsApp, two days later; River's own scheduler moves the
		// job once the app clock passes its time (within its 5-second tick).
		e.clk.Advance(2 * day)
		e.waitStep(1, parley.StepSent)
		conv, err := e.p.Store.OpenConversationByContact(context.Background(), e.tenant.ID, parley.KindCustomer, janePhone)
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := e.p.Store.RecentMessages(context.Background(), e.tenant.ID, conv.ID, 10)
		if len(msgs) != 1 || msgs[0].Status != parley.StatusQueued || msgs[0].Template == nil || msgs[0].Template.Name != "lead_follow_up" ||
			msgs[0].Template.Parameters[0] != "Jane" || msgs[0].Content != out.Data.Messages["whatsapp"].Message || msgs[0].ChannelID != e.channel {
			t.Fatalf("whatsapp message = %+v", msgs)
		}

		// Step 3: the in-app notification.
		e.clk.Advance(2 * day)
		e.runDueSteps()
		e.waitStep(2, parley.StepSent)
		page := e.p.Do("GET", "/api/visitors/"+e.visitor+"/notifications", e.key, nil).Map(t)
		items := page["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["title"] != out.Data.Messages["notification"].Title {
			t.Fatalf("notifications = %v", page)
		}

		// Step 4: the web banner, served to the site with its site key.
		banner := "/api/sites/" + e.siteID + "/banner?visitor=" + e.visitor
		if r := e.p.Do("GET", banner+"&key="+e.site["site_key"].(string), "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"banner":null`) {
			t.Fatalf("banner before its step: %d %s", r.Status, r.Body)
		}
		e.clk.Advance(2 * day)
		e.runDueSteps()
		done := e.waitStep(3, parley.StepSent)
		r := e.p.Do("GET", banner+"&key="+e.site["site_key"].(string), "", nil)
		if r.Status != 200 || r.Map(t)["banner"].(map[string]any)["message"] != out.Data.Messages["web"].Message ||
			r.Header.Get("Access-Control-Allow-Origin") != "https://acme.example" {
			t.Fatalf("banner: %d %s", r.Status, r.Body)
		}
		if r := e.p.Do("GET", banner, "", nil); r.Status != 401 {
			t.Fatalf("banner without a key: %d", r.Status)
		}
		if r := e.p.Do("GET", banner, e.key, nil); r.Status != 200 {
			t.Fatalf("banner with the API key: %d", r.Status)
		}
		if done.Status != parley.SequenceCompleted {
			t.Fatalf("sequence = %s", done.Status)
		}
		ev := e.events()
		want := []string{leads.EventContentWritten, leads.EventSequenceScheduled, leads.EventStepSent, leads.EventStepSent,
			leads.EventStepSent, leads.EventStepSent, leads.EventSequenceCompleted}
		if strings.Join(ev, ",") != strings.Join(want, ",") {
			t.Fatalf("events = %v", ev)
		}
	})
}

// TestSequenceStopsOnReply: the lead writes on WhatsApp after the e-mail;
// the next step finds the reply at its run time and stops the sequence.
func TestSequenceStopsOnReply(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		res, _ := e.followUp(e.key, e.body(map[string]any{"schedule": true, "visitorId": e.visitor}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		e.waitStep(0, parley.StepSent)

		e.clk.Advance(time.Hour)
		e.inbound("Thanks, let's talk tomorrow")
		e.clk.Advance(2 * day)
		e.runDueSteps()
		var seq parley.Sequence
		apptest.Eventually(t, "sequence stopped", func() bool { seq = e.sequence(); return seq.Status == parley.SequenceStopped })
		if seq.StopReason != "lead replied on whatsapp" || seq.Steps[1].Status != parley.StepCancelled || seq.Steps[3].Status != parley.StepCancelled {
			t.Fatalf("sequence = %+v", seq)
		}
		conv, _ := e.p.Store.OpenConversationByContact(context.Background(), e.tenant.ID, parley.KindCustomer, janePhone)
		if msgs, _ := e.p.Store.RecentMessages(context.Background(), e.tenant.ID, conv.ID, 10); len(msgs) != 1 || msgs[0].Role != parley.RoleCustomer {
			t.Fatalf("something was sent after the reply: %+v", msgs)
		}
		if ev := e.events(); !contains(ev, leads.EventSequenceStopped) || contains(ev, leads.EventSequenceCompleted) {
			t.Fatalf("events = %v", ev)
		}
		if len(e.smtp.Received()) != 1 {
			t.Fatalf("mails = %d", len(e.smtp.Received()))
		}
	})
}

// TestSequenceThroughTheAPI starts a sequence from the lead's latest
// follow-up, replaces it, records a reply, cancels, and checks the
// window: a lead who wrote recently gets free text, not the template.
func TestSequenceThroughTheAPI(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		path := "/api/leads/" + e.leadID + "/sequence"
		if r := e.p.Do("POST", path, e.key, map[string]any{}); r.Status != 409 {
			t.Fatalf("before any follow-up: %d %s", r.Status, r.Body)
		}
		if res, _ := e.followUp(e.key, e.body(nil)); res.Status != 200 {
			t.Fatal(res.Status)
		}
		if r := e.p.Do("POST", path, e.key, map[string]any{"follow_up_interval": "next tuesday"}); r.Status != 422 || r.ErrorCode() != "validation_failed" {
			t.Fatalf("bad interval: %d %s", r.Status, r.Body)
		}
		e.inbound("Hi, I have a question") // opens the 24-hour window, before the sequence starts
		r := e.p.Do("POST", path, e.key, map[string]any{"followUpInterval": "2 hours", "visitor_id": e.visitor})
		if r.Status != 201 {
			t.Fatalf("start: %d %s", r.Status, r.Body)
		}
		var first parley.Sequence
		r.JSON(t, &first)
		if first.Interval != "2 hours" || first.IntervalS != 7200 || len(first.Steps) != 4 {
			t.Fatalf("sequence = %+v", first)
		}
		e.waitStep(0, parley.StepSent)
		e.clk.Advance(2 * time.Hour)
		e.runDueSteps()
		e.waitStep(1, parley.StepSent)
		conv, _ := e.p.Store.OpenConversationByContact(context.Background(), e.tenant.ID, parley.KindCustomer, janePhone)
		msgs, _ := e.p.Store.RecentMessages(context.Background(), e.tenant.ID, conv.ID, 10)
		if last := msgs[len(msgs)-1]; last.Role != parley.RoleAI || last.Template != nil {
			t.Fatalf("inside the window (%v ago) the follow-up is free text: %+v", e.clk.Now().Sub(msgs[0].CreatedAt), last)
		}

		// A new sequence replaces the active one.
		r = e.p.Do("POST", path, e.key, map[string]any{"follow_up_interval": "3 days"})
		var second parley.Sequence
		r.JSON(t, &second)
		if r.Status != 201 || second.ID == first.ID || second.VisitorID != "" || len(second.Steps) != 2 {
			t.Fatalf("replace: %d %s", r.Status, r.Body)
		}
		if old, _ := e.p.Store.GetSequence(context.Background(), e.tenant.ID, first.ID); old.Status != parley.SequenceCancelled || old.Steps[2].Status != parley.StepCancelled {
			t.Fatalf("replaced sequence = %+v", old)
		}

		// Cancel; then nothing is left to cancel.
		if r := e.p.Do("DELETE", path, e.key, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"cancelled"`) {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		if r := e.p.Do("DELETE", path, e.key, nil); r.Status != 404 {
			t.Fatalf("second cancel: %d", r.Status)
		}
		e.clk.Advance(3 * day)
		e.runDueSteps()
		apptest.Eventually(t, "cancelled step's job finished", func() bool {
			res, _ := e.p.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds(leads.StepArgs{}.Kind()).
				States(rivertype.JobStateScheduled, rivertype.JobStateAvailable, rivertype.JobStateRunning))
			return len(res.Jobs) == 0 || res.Jobs[0].ScheduledAt.After(e.clk.Now())
		})
		if s, _ := e.p.Store.GetSequence(context.Background(), e.tenant.ID, second.ID); s.Steps[1].Status != parley.StepCancelled {
			t.Fatalf("a cancelled sequence delivered: %+v", s.Steps)
		}

		// A reply recorded by hand stops an active sequence at once.
		e.p.Do("POST", path, e.key, map[string]any{})
		if r := e.p.Do("POST", "/api/leads/"+e.leadID+"/replies", e.key, map[string]any{"channel": "email", "summary": "Sounds good"}); r.Status != 204 {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		if s := e.sequence(); s.Status != parley.SequenceStopped || s.StopReason != "lead replied on email" {
			t.Fatalf("after reply: %+v", s)
		}

		// Without its channels, the site can no longer reach the lead.
		e.p.Do("PATCH", "/api/sites/"+e.siteID, e.key, map[string]any{"remove_email": true, "whatsapp_channel_id": ""})
		if r := e.p.Do("POST", path, e.key, map[string]any{}); r.Status != 400 || r.ErrorCode() != "no_valid_channels" {
			t.Fatalf("no channels: %d %s", r.Status, r.Body)
		}
	})
}

// inbound takes a WhatsApp message from the lead the way the channel
// hands it over: into the conversation store.
func (e *env) inbound(text string) {
	e.t.Helper()
	ch, err := e.p.Store.GetChannel(context.Background(), e.tenant.ID, e.channel)
	if err != nil {
		e.t.Fatal(err)
	}
	svc := &conversation.Service{}
	err = e.p.Store.InTx(context.Background(), func(q *store.Queries) error {
		_, _, _, err := svc.Append(context.Background(), q, channel.Inbound{TenantID: e.tenant.ID, Channel: ch, Phone: janePhone, ContactName: "Jane",
			Message: parley.Message{Type: parley.MessageText, Content: text, ChannelMessageID: "wamid." + e.clk.Now().Format("150405.000000"), CreatedAt: e.clk.Now()}})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}
