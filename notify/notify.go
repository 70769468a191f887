package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// Names logged in the customer conversation's event log.
const (
	EventRequested = "Notification Requested"
	EventAnswered  = "Notification Answered"
	EventDelivered = "Notification Answer Delivered"
)

// Service raises, answers and reads merchant notifications.
type Service struct {
	Store  *store.Store
	Jobs   *jobs.Inserter
	Outbox *channel.Outbox
	// Conversations lets the AI agent write the customer's reply with a
	// staff answer in view (inside the 24-hour window).
	Conversations *conversation.Service
	// LLM classifies support requests and localizes answers; nil runs
	// without (admins get every support request, answers go as written).
	LLM *llm.Client
	Log *slog.Logger
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Raise asks for a notification: it checks the type, the requested fields
// and the conversation, then enqueues the request job, which does the rest.
// key de-duplicates raises (the AI agent's retried job raises once); empty
// means every call raises its own. It returns the notification's id, under
// which GET /api/notifications/{id} finds it once the job has run.
func (s *Service) Raise(ctx context.Context, tenantID, conversationID string, typ parley.NotificationType, fields map[string]string, key string) (string, error) {
	spec, ok := SpecOf(typ)
	if !ok {
		return "", parley.FieldError("type", "unknown notification type %q (expected one of %s)", typ, typeList())
	}
	clean, err := spec.ValidateRequest(fields)
	if err != nil {
		return "", err
	}
	if !store.IsUUID(conversationID) {
		return "", parley.Errorf(parley.CodeNotFound, "conversation not found")
	}
	id := uuid.Must(uuid.NewV7()).String()
	if key == "" {
		key = id
	}
	args := RequestArgs{ID: id, TenantID: tenantID, ConversationID: conversationID, Type: typ, Context: clean, Key: key}
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if _, err := q.GetConversation(ctx, tenantID, conversationID); err != nil {
			return err
		}
		return s.Jobs.InsertTx(ctx, q.Tx(), args, nil)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func typeList() string {
	var out []string
	for _, t := range Types() {
		out = append(out, string(t))
	}
	return strings.Join(out, ", ")
}

// Get returns one of the tenant's notifications.
func (s *Service) Get(ctx context.Context, tenantID, id string) (parley.Notification, error) {
	if !store.IsUUID(id) {
		return parley.Notification{}, parley.Errorf(parley.CodeNotFound, "notification not found")
	}
	return s.Store.GetNotification(ctx, tenantID, id)
}

// List pages through the tenant's notifications, newest first.
func (s *Service) List(ctx context.Context, tenantID string, f store.NotificationFilter, p store.Page) ([]parley.Notification, string, error) {
	for _, t := range append([]parley.NotificationType{f.Type}, f.Types...) {
		if _, ok := SpecOf(t); t != "" && !ok {
			return nil, "", parley.FieldError("type", "unknown notification type %q (expected one of %s)", t, typeList())
		}
	}
	switch f.Status {
	case "", parley.NotificationRequested, parley.NotificationAnswered:
	default:
		return nil, "", parley.FieldError("status", "unknown status %q (expected requested or answered)", f.Status)
	}
	return s.Store.ListNotifications(ctx, tenantID, f, p)
}

// ForDocument lists the notifications that created or answered a document.
func (s *Service) ForDocument(ctx context.Context, tenantID, documentID string, p store.Page) ([]parley.Notification, string, error) {
	if !store.IsUUID(documentID) {
		return nil, "", parley.Errorf(parley.CodeNotFound, "document not found")
	}
	if _, err := s.Store.GetDocument(ctx, tenantID, documentID); err != nil {
		return nil, "", err
	}
	return s.Store.ListNotifications(ctx, tenantID, store.NotificationFilter{DocumentID: documentID}, p)
}

// Answerable reports whether the notification takes an answer now: a
// requested one always, an answered one only if it allows several.
func Answerable(n parley.Notification) bool {
	return n.Status == parley.NotificationRequested || (n.Status == parley.NotificationAnswered && n.AllowMultiple)
}

// parseRef reads the notification reference staff and the AI use:
// NOTIF_12, 12, or the id itself.
func parseRef(ctx context.Context, q *store.Queries, tenantID, ref string) (parley.Notification, error) {
	ref = strings.TrimSpace(ref)
	if store.IsUUID(ref) {
		return q.GetNotification(ctx, tenantID, ref)
	}
	num := strings.TrimPrefix(strings.TrimPrefix(strings.ToUpper(ref), "NOTIF_"), "NOTIF")
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return parley.Notification{}, parley.FieldError("notification_id", "%q is not a notification reference (like NOTIF_12)", ref)
	}
	return q.NotificationByNumber(ctx, tenantID, n)
}

// templateParam makes text fit a WhatsApp template body parameter, which
// may not hold new lines, tabs or long runs of spaces, and keeps it short.
func templateParam(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > 1000 {
		text = string([]rune(text)[:999]) + "…"
	}
	return text
}

// language is the conversation's language, else the tenant's, else en.
func language(conv parley.Conversation, tenant parley.Tenant) string {
	for _, l := range []string{conv.Language, tenant.DefaultLanguage} {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return "en"
}

// errorf wraps err with a description, keeping it inspectable.
func errorf(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
