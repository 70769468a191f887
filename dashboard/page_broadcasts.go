package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// Broadcasts: every broadcast with its progress, stats and cost; a page
// per broadcast with its recipients; and, for admins, the New broadcast
// form, Cancel and the broadcast settings (broadcast_forms.go). Requests
// are checked by package campaign, the same code (and messages) as the API.

func (d *Dashboard) broadcastsPage() Page {
	p := Page{Name: "Broadcasts", Path: "/broadcasts"}
	if d.broadcasts == nil {
		return p
	}
	p.Routes = func(rt Routes) {
		rt.Get("/broadcasts", d.broadcastList)
		rt.Get("/broadcasts/{id}", d.broadcastDetail)
		admin := Routes{d: rt.d, admin: true}
		admin.Get("/broadcasts/new", d.broadcastForm)
		admin.Post("/broadcasts/new", d.createBroadcast)
		if d.templates != nil {
			admin.Post("/broadcasts/templates/sync", d.syncTemplates)
		}
		admin.Post("/broadcasts/{id}/cancel", d.cancelBroadcast)
		admin.Get("/broadcasts/settings", d.broadcastSettingsForm)
		admin.Post("/broadcasts/settings", d.saveBroadcastSettings)
	}
	return p
}

// recipientPage is how many recipients a broadcast's page shows at once.
const recipientPage = 25

// recipientOutcomes are the outcomes the recipients can be filtered by.
var recipientOutcomes = []string{"pending", "queued", "sent", "delivered", "read", "replied", "failed", "opted_out", "skipped", "cancelled"}

type broadcastRow struct {
	campaign.BroadcastView
	Channel string // the channel's name ("" when deleted)
}

type broadcastsData struct {
	Rows  []broadcastRow
	Pager Pager
	// Live: a broadcast on the page is scheduled or sending, so the page
	// refreshes itself (as a broadcast's own page does).
	Live bool
}

func (d *Dashboard) broadcastList(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	q := d.store.Read()
	items, next, err := q.ListBroadcasts(ctx, s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	channels, err := d.ruleChannels(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data := broadcastsData{Pager: pager(r, "cursor", next)}
	for _, b := range items {
		v, err := campaign.View(ctx, q, b)
		if err != nil {
			return err
		}
		data.Rows = append(data.Rows, broadcastRow{BroadcastView: v, Channel: channelName(channels, b.ChannelID)})
		data.Live = data.Live || live(b)
	}
	return d.render(w, r, s, http.StatusOK, "broadcasts", data)
}

// live: the broadcast is scheduled or sending, so its figures still move.
func live(b store.Broadcast) bool {
	return b.Status == store.BroadcastScheduled || b.Status == store.BroadcastRunning
}

func channelName(channels []parley.Channel, id string) string {
	for _, c := range channels {
		if c.ID == id {
			return c.Name
		}
	}
	return ""
}

type broadcastData struct {
	broadcastRow
	// Live: scheduled or sending, so the page refreshes itself.
	Live bool
	// ChannelOff: the channel is inactive (or deleted), so nothing is sent
	// until it is switched on again.
	ChannelOff bool
	Recipients []store.BroadcastRecipient
	Outcome    string
	Outcomes   []string
	Pager      Pager
	// Notice is shown above the page (e.g. a refused cancel).
	Notice string
}

func (d *Dashboard) broadcastDetail(w http.ResponseWriter, r *http.Request, s *Session) error {
	return d.showBroadcast(w, r, s, http.StatusOK, r.PathValue("id"), "")
}

func (d *Dashboard) showBroadcast(w http.ResponseWriter, r *http.Request, s *Session, status int, id, notice string) error {
	ctx := r.Context()
	data, err := d.broadcastData(ctx, s.TenantID, id, r)
	if err != nil {
		return err
	}
	data.Notice = notice
	return d.render(w, r, s, status, "broadcast", data)
}

func (d *Dashboard) broadcastData(ctx context.Context, tenantID, id string, r *http.Request) (broadcastData, error) {
	q := d.store.Read()
	b, err := q.GetBroadcast(ctx, tenantID, id)
	if err != nil {
		return broadcastData{}, err
	}
	v, err := campaign.View(ctx, q, b)
	if err != nil {
		return broadcastData{}, err
	}
	data := broadcastData{broadcastRow: broadcastRow{BroadcastView: v}, Outcomes: recipientOutcomes,
		Live: live(b)}
	ch, err := q.GetChannel(ctx, tenantID, b.ChannelID)
	switch {
	case parley.ErrorCode(err) == parley.CodeNotFound:
		data.ChannelOff = data.Live
	case err != nil:
		return broadcastData{}, err
	default:
		data.Channel, data.ChannelOff = ch.Name, data.Live && !ch.Active
	}
	query := r.URL.Query()
	if o := query.Get("outcome"); slices.Contains(recipientOutcomes, o) {
		data.Outcome = o
	}
	var next string
	data.Recipients, next, err = q.ListRecipients(ctx, tenantID, b.ID, data.Outcome, store.Page{Limit: recipientPage, Cursor: query.Get("cursor")})
	if err != nil && parley.ErrorCode(err) != parley.CodeValidation {
		return broadcastData{}, err
	}
	data.Pager = pager(r, "cursor", next)
	return data, nil
}

// cancelBroadcast stops a broadcast; one that has finished or was
// cancelled already answers 409 on its page, saying so.
func (d *Dashboard) cancelBroadcast(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	id := r.PathValue("id")
	_, err := d.broadcasts.Cancel(ctx, s.TenantID, id)
	if parley.ErrorCode(err) == parley.CodeConflict {
		return d.showBroadcast(w, r, s, http.StatusConflict, id, "Not cancelled: "+errorMessage(err)+".")
	}
	if err != nil {
		return err
	}
	d.log.InfoContext(ctx, "broadcast cancelled from the dashboard", "tenant_id", s.TenantID, "broadcast_id", id, "user_id", s.UserID)
	return redirect(w, r, "/broadcasts/"+id)
}

// errorMessage is a domain error's message for the user.
func errorMessage(err error) string {
	var pe *parley.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}
