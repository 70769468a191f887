package channel

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// Provider is one outside messaging system (WhatsApp Cloud API, Twilio,
// …), each in its own package under channel/. It receives its webhooks and
// sends one message; the gateway and the send stage do everything else
// (group commit, deduplication, claims, the 24-hour rule, budgets, retries,
// send marks) the same way for every provider.
type Provider interface {
	// Mount adds the provider's webhook routes to m. Each handler checks
	// the request is the provider's (signature), parses it into batches
	// and answers once in.Ingest has stored them.
	Mount(m Mux, in Intake)
	// Send sends msg to the conversation's contact on ch and returns the
	// provider's id for it.
	Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (providerID string, err error)
	// Classify reads an error Send returned; ok is false when the error is
	// not one of the provider's own (the stage then decides).
	Classify(err error) (f Failure, ok bool)
}

// Intake is what a provider's webhook handlers hand their batches to (the
// Gateway).
type Intake interface {
	// Ingest stores one webhook's batches durably, with whatever other
	// requests arrive at the same moment, and returns once they are
	// committed: only then may the handler acknowledge the webhook.
	Ingest(ctx context.Context, provider string, batches []Batch) error
	// Count adds n to the provider's webhook outcome metric.
	Count(provider, outcome string, n int)
}

// StatusReporter is implemented by a provider that posts a status webhook
// for every message it accepted only under some settings (Twilio: when it
// was given a callback URL). The send stage waits for a lost attempt's
// status only when one will come.
type StatusReporter interface {
	ReportsStatuses(ch parley.Channel) bool
}

// Owners is implemented by a provider whose routes channels claim and must
// prove they own (WhatsApp numbers): messages for a route no claim has
// proven are held until Owner names a verified channel.
type Owners interface {
	// Owner is the verified channel of route, an *Unverified when only
	// unproven claims exist, or a CodeNotFound error.
	Owner(ctx context.Context, q *store.Queries, route string) (parley.Channel, error)
}

// Failure is a send error in provider-neutral terms.
type Failure struct {
	Code, Reason string
	Retryable    bool
	// Wait is the least wait before a retry, when the provider said.
	Wait time.Duration
}

// providers is the Provider for each channel type the stage sends on.
func (s *Sender) providers() map[parley.ChannelType]Provider { return s.Providers }

// classify reads a send error: the provider's own first, then Parley's
// refusals (a *parley.Error: the message is invalid). ok is false for
// errors that are not about the message (the database, a cancelled
// context): those are retried.
func classify(p Provider, err error) (Failure, bool) {
	if f, ok := p.Classify(err); ok {
		return f, true
	}
	var pe *parley.Error
	if errors.As(err, &pe) {
		return Failure{Code: CodeInvalidMessage, Reason: pe.Error()}, true
	}
	return Failure{}, false
}
