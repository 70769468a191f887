package campaign

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// DefaultOptOutWords stop broadcasts for a tenant that names none of its
// own: English, French, Spanish, Portuguese and German. "STOP" always
// counts, whatever the tenant names.
var DefaultOptOutWords = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "ARRÊTER", "ARRETER", "DÉSABONNER", "DESABONNER",
	"BAJA", "PARAR", "SAIR", "DESCADASTRAR", "ABMELDEN"}

// defaultReplies confirm an opt-out in the conversation's language.
var defaultReplies = map[string]string{
	"en": "You will not receive our broadcasts any more. You can still write to us here whenever you need help.",
	"fr": "Vous ne recevrez plus nos diffusions. Vous pouvez toujours nous écrire ici si vous avez besoin d'aide.",
	"es": "Ya no recibirá nuestras difusiones. Puede seguir escribiéndonos aquí cuando necesite ayuda.",
	"pt": "Você não receberá mais nossas mensagens de divulgação. Pode continuar nos escrevendo aqui quando precisar.",
	"de": "Sie erhalten keine Rundsendungen mehr von uns. Sie können uns hier weiterhin jederzeit schreiben.",
}

// maxOptOutLen: longer messages are never an opt-out word, and cost
// nothing more than this length check.
const maxOptOutLen = 32

// optOutWord returns the message as an opt-out candidate: trimmed of
// spaces and punctuation, upper-cased ("" when it cannot be one).
func optOutWord(text string) string {
	if utf8.RuneCountInString(text) > maxOptOutLen {
		return ""
	}
	w := strings.TrimFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	if w == "" || strings.ContainsFunc(w, unicode.IsSpace) && len(strings.Fields(w)) > 3 {
		return ""
	}
	return strings.ToUpper(strings.Join(strings.Fields(w), " "))
}

// OptOutWords are the words that opt a tenant's customers out.
func OptOutWords(s store.BroadcastSettings) []string {
	if len(s.OptOutWords) == 0 {
		return slices.Clone(DefaultOptOutWords)
	}
	words := []string{"STOP"}
	for _, w := range s.OptOutWords {
		if w = optOutWord(w); w != "" && !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// OptOutReply is the confirmation a customer gets, in lang.
func OptOutReply(s store.BroadcastSettings, lang string) string {
	if r := strings.TrimSpace(s.OptOutReply); r != "" {
		return r
	}
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	base, _, _ = strings.Cut(base, "_")
	if r, ok := defaultReplies[base]; ok {
		return r
	}
	return defaultReplies["en"]
}

// Intercept is the conversation's hook for a customer's message: a text
// that is an opt-out word records the opt-out (the phone is never sent a
// broadcast again) and queues a confirmation, once; the message is then
// handled, and neither the AI agent nor a human answers it. Only short
// texts cost a read (the tenant's words).
func (s *Broadcasts) Intercept(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) (bool, error) {
	if msg.Type != parley.MessageText || conv.Kind != parley.KindCustomer || conv.ContactPhone == "" {
		return false, nil
	}
	word := optOutWord(msg.Content)
	if word == "" {
		return false, nil
	}
	settings, err := q.GetBroadcastSettings(ctx, conv.TenantID)
	if err != nil {
		return false, err
	}
	if !slices.Contains(OptOutWords(settings), word) {
		return false, nil
	}
	added, err := q.AddOptOut(ctx, conv.TenantID, store.OptOut{Phone: conv.ContactPhone, Word: word, ConversationID: conv.ID})
	if err != nil {
		return false, err
	}
	payload := OptedOutPayload{Phone: conv.ContactPhone, Word: word, MessageID: msg.ID, Already: !added}
	if added {
		reply, err := s.Outbox.Queue(ctx, q, conv, parley.Message{Role: parley.RoleAI, Content: OptOutReply(settings, conv.Language),
			Extra: map[string]any{"opt_out": true}})
		if err != nil {
			return false, err
		}
		if err := q.SetOptOutConfirmation(ctx, conv.TenantID, conv.ContactPhone, reply.ID); err != nil {
			return false, err
		}
		payload.ConfirmationID = reply.ID
	}
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, EventOptedOut, payload); err != nil {
		return false, err
	}
	s.log().InfoContext(ctx, "customer opted out of broadcasts", "tenant_id", conv.TenantID, "conversation_id", conv.ID, "word", word, "first_time", added)
	return true, nil
}
