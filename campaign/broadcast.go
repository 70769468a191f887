package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
)

// Broadcasts sends one approved template to a segment of a tenant's
// customers: paced under a rate, inside the tenant's availability hours,
// cancellable, and resumed after a crash without sending anyone twice
// (each batch marks its recipients queued in the transaction that queues
// their messages through the outbox).
type Broadcasts struct {
	Store  *store.Store
	Jobs   *jobs.Inserter
	Outbox *channel.Outbox
	Clock  clock.Clock
	Log    *slog.Logger
	// NextOpening is the tenant's next opening of its availability hours
	// (now when open): followup.NextOpening.
	NextOpening func(parley.Tenant, time.Time) (time.Time, error)
}

// Rates, in template messages per second.
const (
	// DefaultRate stays well under the 80 messages a second a WhatsApp
	// Cloud API number is allowed by default.
	DefaultRate = 20
	MaxRate     = 80
	// turn is how long one batch covers: a batch is rate × turn messages.
	turn = time.Second
	// inactiveHold is how long a broadcast on an inactive channel waits
	// before looking again.
	inactiveHold = time.Minute
)

// Refusal codes of a broadcast refused at creation (422).
const (
	CodeUnknownChannel   = "unknown_channel"
	CodeNoTemplates      = "channel_sends_no_templates"
	CodeEmptySegment     = "empty_segment"
	CodeBadSendAt        = "bad_send_at"
	CodeRateOutOfRange   = "rate_out_of_range"
	CodeUnknownCategory  = "unknown_category"
	CodeTemplateRequired = "template_required"
)

// BroadcastRequest is what a tenant asks for.
type BroadcastRequest struct {
	Name         string        `json:"name"`
	ChannelID    string        `json:"channel_id"`
	TemplateName string        `json:"template_name"`
	Language     string        `json:"language"`
	Parameters   []string      `json:"parameters"`
	Segment      store.Segment `json:"segment"`
	// SendAt is when to start: RFC 3339 with an offset, or a local
	// "2006-01-02T15:04" read in the tenant's time zone; empty is now.
	SendAt     string `json:"send_at"`
	RatePerSec int    `json:"rate_per_second"`
	// Category is for Twilio channels, whose templates Parley cannot list
	// (marketing by default); a WhatsApp template's is the synced one.
	Category string `json:"category"`
}

// placeholder is a value filled per recipient in a parameter.
var placeholder = regexp.MustCompile(`\{\{\s*([a-z_]*)\s*\}\}`)

// Placeholders a broadcast parameter may use.
var Placeholders = []string{"name", "first_name", "phone"}

// Create checks a request and stores the broadcast with its recipients,
// and wakes the pacer in the same transaction. A request that cannot be
// sent returns a Refusal and stores nothing.
func (s *Broadcasts) Create(ctx context.Context, tenant parley.Tenant, in BroadcastRequest) (store.Broadcast, *Refusal, error) {
	b := store.Broadcast{TenantID: tenant.ID, Name: strings.TrimSpace(in.Name), ChannelID: in.ChannelID, TemplateName: strings.TrimSpace(in.TemplateName),
		Language: in.Language, Parameters: in.Parameters, Segment: in.Segment, RatePerSec: in.RatePerSec}
	if b.TemplateName == "" {
		return b, &Refusal{CodeTemplateRequired, "template_name is required"}, nil
	}
	if b.Name == "" {
		b.Name = b.TemplateName
	}
	for _, p := range b.Parameters {
		for _, m := range placeholder.FindAllStringSubmatch(p, -1) {
			if !slices.Contains(Placeholders, m[1]) {
				return b, &Refusal{CodeUnknownValue, fmt.Sprintf("parameter %q names {{%s}}; a parameter may use %s", p, m[1], strings.Join(Placeholders, ", "))}, nil
			}
		}
	}
	now := s.Clock.Now()
	at, err := parseSendAt(in.SendAt, tenant, now)
	if err != nil {
		return b, &Refusal{CodeBadSendAt, err.Error()}, nil
	}
	b.ScheduledAt = at
	var out store.Broadcast
	var refusal *Refusal
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		settings, err := q.GetBroadcastSettings(ctx, tenant.ID)
		if err != nil {
			return err
		}
		if b.RatePerSec == 0 {
			b.RatePerSec = cmpOr(settings.RatePerSec, DefaultRate)
		}
		if b.RatePerSec < 1 || b.RatePerSec > MaxRate {
			refusal = &Refusal{CodeRateOutOfRange, fmt.Sprintf("rate_per_second must be 1 to %d (WhatsApp's default limit per number is 80)", MaxRate)}
			return nil
		}
		if refusal, err = s.checkTemplate(ctx, q, &b, in.Category); refusal != nil || err != nil {
			return err
		}
		n, err := q.CountSegment(ctx, tenant.ID, b.Segment)
		if err != nil {
			return err
		}
		if n == 0 {
			refusal = &Refusal{CodeEmptySegment, "the segment selects no customer: nothing would be sent"}
			return nil
		}
		if out, err = q.CreateBroadcast(ctx, b); err != nil {
			return err
		}
		return s.Jobs.InsertTx(ctx, q.Tx(), PaceArgs{}, nil)
	})
	if err != nil || refusal != nil {
		return out, refusal, err
	}
	s.log().InfoContext(ctx, "broadcast created", "tenant_id", tenant.ID, "broadcast_id", out.ID, "recipients", out.Total,
		"template", out.TemplateName, "scheduled_at", out.ScheduledAt, "rate_per_second", out.RatePerSec)
	return out, nil, nil
}

// checkTemplate validates the template against the channel: a WhatsApp
// channel's must be synced, approved and take as many body parameters as
// given; a Twilio channel's is taken on trust.
func (s *Broadcasts) checkTemplate(ctx context.Context, q *store.Queries, b *store.Broadcast, category string) (*Refusal, error) {
	ch, err := q.GetChannel(ctx, b.TenantID, b.ChannelID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return &Refusal{CodeUnknownChannel, fmt.Sprintf("the tenant has no channel %q", b.ChannelID)}, nil
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(templateTypes, ch.Type) {
		return &Refusal{CodeNoTemplates, fmt.Sprintf("a %s channel sends no WhatsApp templates (whatsapp or twilio)", ch.Type)}, nil
	}
	if ch.Type == parley.ChannelTwilio {
		b.Category = strings.ToLower(cmpOr(category, "marketing"))
		if _, ok := DefaultPrices[b.Category]; !ok {
			return &Refusal{CodeUnknownCategory, fmt.Sprintf("category %q is not marketing, utility or authentication", category)}, nil
		}
		return nil, nil
	}
	synced, err := q.SyncedTemplates(ctx, b.TenantID)
	if err != nil {
		return nil, err
	}
	var found *store.SyncedTemplate
	for i, t := range synced {
		if t.ChannelID == ch.ID && t.Name == b.TemplateName && (b.Language == "" || t.Language == b.Language) {
			if found == nil || strings.EqualFold(t.Status, "APPROVED") && !strings.EqualFold(found.Status, "APPROVED") {
				found = &synced[i]
			}
		}
	}
	switch {
	case found == nil:
		return &Refusal{CodeNotSynced, fmt.Sprintf("the channel's WhatsApp Business Account has no template %q in language %q (POST /api/templates/sync after creating it)", b.TemplateName, b.Language)}, nil
	case !strings.EqualFold(found.Status, "APPROVED"):
		return &Refusal{CodeNotApproved, fmt.Sprintf("template %q (%s) is %s, not approved", found.Name, found.Language, found.Status)}, nil
	case found.BodyParams != len(b.Parameters):
		return &Refusal{CodeParameterMismatch, fmt.Sprintf("template %q (%s) takes %d body parameters; the broadcast gives %d", found.Name, found.Language, found.BodyParams, len(b.Parameters))}, nil
	}
	b.Language, b.Category = found.Language, strings.ToLower(found.Category)
	return nil, nil
}

// parseSendAt reads when to start: empty is now; an offset-less local time
// is the tenant's.
func parseSendAt(v string, tenant parley.Tenant, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	loc, err := time.LoadLocation(cmpOr(tenant.TimeZone, "UTC"))
	if err != nil {
		return now, fmt.Errorf("the tenant's time zone %q is unknown", tenant.TimeZone)
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return now, fmt.Errorf("send_at %q is neither RFC 3339 nor a local time like 2026-12-24T09:00 (in %s)", v, loc)
}

// Cancel stops a broadcast: no batch starts after it commits (a batch
// being written holds the broadcast's row until it commits), and its
// pending recipients are cancelled.
func (s *Broadcasts) Cancel(ctx context.Context, tenantID, id string) (store.Broadcast, error) {
	var b store.Broadcast
	err := s.Store.InTx(ctx, func(q *store.Queries) (err error) {
		b, err = q.CancelBroadcast(ctx, tenantID, id)
		return err
	})
	if err == nil {
		s.log().InfoContext(ctx, "broadcast cancelled", "tenant_id", tenantID, "broadcast_id", id)
	}
	return b, err
}

// Pace sends the next batch of every broadcast that is due. It is the
// pacer job's work; any number of pacers may run at once.
func (s *Broadcasts) Pace(ctx context.Context) error {
	due, err := s.Store.DueBroadcasts(ctx, s.Clock.Now(), 50)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range due {
		if err := s.batch(ctx, b); err != nil {
			s.log().ErrorContext(ctx, "broadcast batch failed; it is tried again at the next turn", "tenant_id", b.TenantID, "broadcast_id", b.ID, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pace broadcasts: %d batches failed: %w", len(errs), errs[0])
	}
	return nil
}

// batch sends one turn's worth of a broadcast: outside the hours it waits
// for the next opening; otherwise it takes the turn (a compare-and-swap on
// next_send_at, so two pacers never send the same turn), and queues up to
// rate × turn messages, each recipient marked queued in the same
// transaction as its message.
func (s *Broadcasts) batch(ctx context.Context, b store.Broadcast) error {
	log := s.log().With("tenant_id", b.TenantID, "broadcast_id", b.ID)
	now := s.Clock.Now()
	tenant, err := s.Store.GetTenant(ctx, b.TenantID)
	if err != nil {
		return err
	}
	if s.NextOpening != nil {
		open, err := s.NextOpening(tenant, now)
		if err != nil {
			log.WarnContext(ctx, "availability hours unreadable; broadcast sent as if open", "err", err)
		} else if open.After(now) {
			log.InfoContext(ctx, "broadcast waits for the next opening of the availability hours", "until", open, "time_zone", tenant.TimeZone)
			return s.Store.DelayBroadcast(ctx, b, open)
		}
	}
	ch, err := s.Store.GetChannel(ctx, b.TenantID, b.ChannelID)
	if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		return err
	}
	gone := err != nil
	if !gone && !ch.Active {
		log.WarnContext(ctx, "broadcast channel inactive; waiting", "channel_id", b.ChannelID)
		return s.Store.DelayBroadcast(ctx, b, now.Add(inactiveHold))
	}
	size := b.RatePerSec * int(turn/time.Second)
	var queued, finished bool
	var counts [3]int // queued, opted out, skipped
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		counts = [3]int{}
		ok, err := q.TakeBroadcastTurn(ctx, b, now.Add(turn))
		if err != nil || !ok {
			return err
		}
		queued = true
		rs, err := q.PendingRecipients(ctx, b.ID, size)
		if err != nil {
			return err
		}
		for _, r := range rs {
			switch {
			case r.OptedOut:
				r.State, r.Reason = store.RecipientOptedOut, store.ReasonOptedOut
				counts[1]++
			case gone:
				r.State, r.Reason = store.RecipientSkipped, "the broadcast's channel was deleted"
				counts[2]++
			default:
				if err := s.send(ctx, q, tenant, b, &r); err != nil {
					return fmt.Errorf("recipient %d: %w", r.Seq, err)
				}
				counts[0]++
			}
			if _, err := q.MarkRecipient(ctx, b.ID, r); err != nil {
				return err
			}
		}
		if len(rs) < size {
			finished, err = q.FinishBroadcast(ctx, b.ID)
		}
		return err
	})
	if err != nil || !queued {
		return err
	}
	if b.Status == store.BroadcastScheduled {
		log.InfoContext(ctx, "broadcast started", "recipients", b.Total)
	}
	log.DebugContext(ctx, "broadcast batch", "queued", counts[0], "opted_out", counts[1], "skipped", counts[2])
	if finished {
		log.InfoContext(ctx, "broadcast finished")
	}
	return nil
}

// send queues the broadcast's template to one recipient in its open
// conversation (opening one on the broadcast's channel if needed).
func (s *Broadcasts) send(ctx context.Context, q *store.Queries, tenant parley.Tenant, b store.Broadcast, r *store.BroadcastRecipient) error {
	conv, err := q.OpenConversationByContact(ctx, b.TenantID, parley.KindCustomer, r.Phone)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		conv, err = q.CreateConversation(ctx, parley.Conversation{TenantID: b.TenantID, Kind: parley.KindCustomer, CustomerID: r.CustomerID,
			ContactPhone: r.Phone, ChannelID: b.ChannelID, Language: cmpOr(r.Language, tenant.DefaultLanguage)})
	}
	if err != nil {
		return err
	}
	params := make([]string, len(b.Parameters))
	for i, p := range b.Parameters {
		params[i] = fill(p, *r)
	}
	lang := cmpOr(b.Language, conv.Language)
	msg := parley.Message{Role: parley.RoleAI, ChannelID: b.ChannelID,
		Content:  fmt.Sprintf("[%s] %s", b.TemplateName, strings.Join(params, " · ")),
		Template: &parley.Template{Name: b.TemplateName, Language: lang, Parameters: params},
		Extra:    map[string]any{"broadcast_id": b.ID}}
	msg, err = s.Outbox.Queue(ctx, q, conv, msg)
	if err != nil {
		return err
	}
	if err := q.AppendEvent(ctx, b.TenantID, conv.ID, EventBroadcastQueued, BroadcastQueuedPayload{
		BroadcastID: b.ID, Name: b.Name, MessageID: msg.ID, Template: b.TemplateName, Language: lang}); err != nil {
		return err
	}
	now := msg.CreatedAt
	r.State, r.ConversationID, r.MessageID, r.QueuedAt = store.RecipientQueued, conv.ID, msg.ID, &now
	return nil
}

// fill replaces a parameter's placeholders with the recipient's values.
// WhatsApp refuses new lines and runs of spaces in parameters.
func fill(p string, r store.BroadcastRecipient) string {
	first, _, _ := strings.Cut(strings.TrimSpace(r.Name), " ")
	out := placeholder.ReplaceAllStringFunc(p, func(m string) string {
		switch placeholder.FindStringSubmatch(m)[1] {
		case "name":
			return r.Name
		case "first_name":
			return first
		case "phone":
			return r.Phone
		}
		return ""
	})
	out = strings.Join(strings.Fields(out), " ")
	if out == "" {
		out = "-" // an empty parameter is refused by the Graph API
	}
	return out
}

func (s *Broadcasts) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// PaceArgs is the pacer: it sends the next batch of every due broadcast.
// It runs every second (PeriodicPacer) and once when a broadcast is
// created, so resuming after a crash needs nothing but a running process.
type PaceArgs struct{}

// Kind is the job's stable name.
func (PaceArgs) Kind() string { return "pace_broadcasts" }

// InsertOpts: not unique, on purpose: a pacer left "running" by a process
// that died must not stop the next one (turns are taken by compare-and-swap,
// so pacers running at once never send a turn twice).
func (PaceArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// PaceWorker works the pacer.
type PaceWorker struct {
	river.WorkerDefaults[PaceArgs]
	S *Broadcasts
}

// Timeout bounds one pass over the due broadcasts.
func (w *PaceWorker) Timeout(*river.Job[PaceArgs]) time.Duration { return time.Minute }

// Work sends the due batches.
func (w *PaceWorker) Work(ctx context.Context, _ *river.Job[PaceArgs]) error { return w.S.Pace(ctx) }

// PeriodicPacer runs the pacer every turn.
func PeriodicPacer() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(turn), func() (river.JobArgs, *river.InsertOpts) {
		return PaceArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
