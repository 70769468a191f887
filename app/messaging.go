package app

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// newMessaging builds the message path — the webhooks' gateway, the
// conversation store it hands messages to, and the send stage — and registers
// their workers. The caller mounts the gateway's webhooks on the server
// and schedules its periodic jobs.
func newMessaging(cfg config.Config, st *store.Store, ins *jobs.Inserter, reg prometheus.Registerer, graph *whatsapp.Client,
	hc *http.Client, log *slog.Logger, workers *river.Workers, convo *conversation.Service, meter *usage.Meter) (*channel.Gateway, *channel.SendStage) {
	// One Provider per outside system: the gateway mounts their webhooks
	// and the send stage sends through them.
	providers := map[parley.ChannelType]channel.Provider{
		parley.ChannelWhatsApp: &whatsapp.Provider{Client: graph, AppSecret: cfg.WhatsAppAppSecret, VerifyToken: cfg.WhatsAppVerifyToken, Log: log},
		parley.ChannelTwilio: &twilio.Provider{Client: &twilio.Client{BaseURL: cfg.TwilioBaseURL, HTTP: hc}, Channels: st,
			PublicURL: cfg.PublicURL, Log: log},
	}
	gw := channel.New(channel.Config{Store: st, Jobs: ins, Receiver: convo, Log: log, Registry: reg, Providers: providers})
	river.AddWorker(workers, gw.ReceivedWorker())
	river.AddWorker(workers, gw.PruneWorker())
	sender := &channel.Sender{Store: st, Log: log, Usage: meter, Providers: providers}
	// Queued messages are the send stage's work; the outbox wakes it after
	// each commit, and the send jobs of older versions only wake it.
	send := &channel.SendStage{Sender: sender}
	sender.Wake = send.Wake
	river.AddWorker(workers, sender)
	convo.Outbox.Wake = send.Wake
	return gw, send
}
