package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
)

// RuleView is a follow-up rule as the API shows it, durations as text,
// with its preview and reach counts and whether the tenant's follow-ups
// are on at all.
type RuleView struct {
	parley.FollowUpRule
	Delay       string `json:"delay" doc:"After the last agent message, e.g. 30m, 2h, 3d"`
	ReplyWindow string `json:"reply_window" doc:"A customer message this long after the follow-up counts as a reply"`
	store.FollowUpReach
	FollowUpsEnabled bool   `json:"followups_enabled" doc:"The tenant's followups feature is on and it has the APPOINTMENTS module; otherwise no rule sends anything (warning says which is missing)"`
	Warning          string `json:"warning,omitempty" doc:"Set while the tenant's follow-ups are switched off, with how to switch them on"`
}

// viewRule shows r with its counts, read with q (the saving transaction
// on a write, so a back-fill that runs at once cannot change them first).
func (s *Server) viewRule(ctx context.Context, q *store.Queries, t parley.Tenant, r parley.FollowUpRule) (RuleView, error) {
	v := RuleView{FollowUpRule: r, Delay: followup.FormatDelay(r.Delay), ReplyWindow: followup.FormatDelay(r.ReplyWindow), FollowUpsEnabled: followup.Enabled(t)}
	if !v.FollowUpsEnabled {
		v.Warning = followup.Warning(t)
	}
	var err error
	v.FollowUpReach, err = q.RuleReach(ctx, r, s.store.Clock().Now())
	return v, err
}

type ruleIn struct {
	Title       string            `json:"title" minLength:"1" maxLength:"200"`
	Message     string            `json:"message,omitempty" maxLength:"4096" doc:"The text sent; with generate, the AI's guidance"`
	Generate    bool              `json:"generate,omitempty" doc:"Let the AI write the message from the conversation"`
	Delay       string            `json:"delay" minLength:"1" maxLength:"32" doc:"e.g. 30m, 2h, 3d; at least 1m"`
	ReplyWindow string            `json:"reply_window,omitempty" maxLength:"32" doc:"Default 24h"`
	Survey      parley.SurveyType `json:"survey,omitempty" enum:"csat,nps,yes_no," doc:"csat (1–5), nps (0–10) or yes_no"`
	ChannelIDs  []string          `json:"channel_ids,omitempty" maxItems:"100" doc:"Channels the rule covers; empty covers all"`
	Template    *parley.Template  `json:"template,omitempty" doc:"Sent instead when the customer's 24-hour window has closed"`
	Active      *bool             `json:"active,omitempty" doc:"Default true"`

	SendAsWritten bool `json:"send_as_written,omitempty" doc:"Send the message as written; by default, with an LLM configured, the AI writes each follow-up from it"`
}

type rulePatch struct {
	Title       *string            `json:"title,omitempty" minLength:"1" maxLength:"200"`
	Message     *string            `json:"message,omitempty" maxLength:"4096"`
	Generate    *bool              `json:"generate,omitempty"`
	Delay       *string            `json:"delay,omitempty" minLength:"1" maxLength:"32"`
	ReplyWindow *string            `json:"reply_window,omitempty" maxLength:"32"`
	Survey      *parley.SurveyType `json:"survey,omitempty" enum:"csat,nps,yes_no,"`
	ChannelIDs  *[]string          `json:"channel_ids,omitempty" maxItems:"100"`
	Template    *parley.Template   `json:"template,omitempty"`
	Active      *bool              `json:"active,omitempty"`

	SendAsWritten *bool `json:"send_as_written,omitempty"`
}

type appointmentIn struct {
	CustomerID string                   `json:"customer_id" minLength:"1" maxLength:"64"`
	StartsAt   time.Time                `json:"starts_at"`
	Status     parley.AppointmentStatus `json:"status,omitempty" enum:"scheduled,confirmed,cancelled,completed,no_show," doc:"Default scheduled"`
	Notes      string                   `json:"notes,omitempty" maxLength:"2000"`
}

type appointmentPatch struct {
	StartsAt *time.Time                `json:"starts_at,omitempty"`
	Status   *parley.AppointmentStatus `json:"status,omitempty" enum:"scheduled,confirmed,cancelled,completed,no_show"`
	Notes    *string                   `json:"notes,omitempty" maxLength:"2000"`
}

// FollowUpRequested answers a follow-up requested by hand.
type FollowUpRequested struct {
	ConversationID string `json:"conversation_id"`
	JobID          int64  `json:"job_id" doc:"The Follow-Up Request job"`
}

func (s *Server) registerFollowUps(fu *followup.Service) {
	registerCRUD(s, resource[RuleView, ruleIn, rulePatch]{
		name: "followup-rule", path: "/api/followup-rules", tag: "Follow-ups",
		create: func(ctx context.Context, t parley.Tenant, in ruleIn) (RuleView, error) {
			r := parley.FollowUpRule{TenantID: t.ID, Active: true}
			var tmpl **parley.Template
			if in.Template != nil {
				tmpl = &in.Template
			}
			input := followup.RuleInput{Title: &in.Title, Message: &in.Message, Generate: &in.Generate, Delay: &in.Delay, Survey: &in.Survey,
				ChannelIDs: &in.ChannelIDs, Template: tmpl, Active: in.Active, SendAsWritten: &in.SendAsWritten}
			if in.ReplyWindow != "" {
				input.ReplyWindow = &in.ReplyWindow
			}
			var v RuleView
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				if err := input.Apply(ctx, q, &r); err != nil {
					return err
				}
				var err error
				if r, err = q.CreateFollowUpRule(ctx, r); err != nil {
					return err
				}
				if err := fu.RuleSaved(ctx, q, nil, r); err != nil {
					return err
				}
				v, err = s.viewRule(ctx, q, t, r)
				return err
			})
			return v, err
		},
		get: func(ctx context.Context, tenantID, id string) (RuleView, error) {
			r, err := s.store.GetFollowUpRule(ctx, tenantID, id)
			if err != nil {
				return RuleView{}, err
			}
			return s.viewRule(ctx, s.store.Read(), TenantFrom(ctx), r)
		},
		list: func(ctx context.Context, tenantID string, p store.Page) ([]RuleView, string, error) {
			rs, next, err := s.store.ListFollowUpRules(ctx, tenantID, p)
			if err != nil {
				return nil, "", err
			}
			out := make([]RuleView, len(rs))
			for i, r := range rs {
				if out[i], err = s.viewRule(ctx, s.store.Read(), TenantFrom(ctx), r); err != nil {
					return nil, "", err
				}
			}
			return out, next, nil
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in rulePatch) (RuleView, error) {
			var r parley.FollowUpRule
			var tmpl **parley.Template
			if in.Template != nil {
				tmpl = &in.Template
			}
			input := followup.RuleInput{Title: in.Title, Message: in.Message, Generate: in.Generate, Delay: in.Delay, ReplyWindow: in.ReplyWindow,
				Survey: in.Survey, ChannelIDs: in.ChannelIDs, Template: tmpl, Active: in.Active, SendAsWritten: in.SendAsWritten}
			var v RuleView
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				var err error
				if r, err = q.GetFollowUpRule(ctx, t.ID, id); err != nil {
					return err
				}
				before := r
				before.ChannelIDs = slices.Clone(r.ChannelIDs)
				if err := input.Apply(ctx, q, &r); err != nil {
					return err
				}
				if r, err = q.UpdateFollowUpRule(ctx, r); err != nil {
					return err
				}
				if err := fu.RuleSaved(ctx, q, &before, r); err != nil {
					return err
				}
				v, err = s.viewRule(ctx, q, t, r)
				return err
			})
			return v, err
		},
		delete: s.store.DeleteFollowUpRule,
	})

	huma.Register(s.api, huma.Operation{OperationID: "get-followup-rule-stats", Method: http.MethodGet, Path: "/api/followup-rules/{id}/stats",
		Summary: "How a follow-up rule performs: sent, skipped by reason, replies, survey answers", Tags: []string{"Follow-ups"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[store.FollowUpStats], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetFollowUpRule(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			st, err := s.store.FollowUpRuleStats(ctx, t.ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[store.FollowUpStats]{Body: st}, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "request-follow-up", Method: http.MethodPost, Path: "/api/conversations/{id}/follow-up",
		Summary: "Look at a conversation's follow-ups now (a Follow-Up Request job)", Tags: []string{"Follow-ups"}, Security: bearer,
		DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *idInput) (*bodyOut[FollowUpRequested], error) {
			t := TenantFrom(ctx)
			var out FollowUpRequested
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				conv, err := q.GetConversation(ctx, t.ID, in.ID)
				if err != nil {
					return err
				}
				id, err := fu.Request(ctx, q, conv, "api")
				out = FollowUpRequested{ConversationID: conv.ID, JobID: id}
				return err
			})
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[FollowUpRequested]{Body: out}, nil
		})

	registerCRUD(s, resource[parley.Appointment, appointmentIn, appointmentPatch]{
		name: "appointment", path: "/api/appointments", tag: "Follow-ups",
		create: func(ctx context.Context, t parley.Tenant, in appointmentIn) (parley.Appointment, error) {
			if _, err := s.store.GetCustomer(ctx, t.ID, in.CustomerID); err != nil {
				if parley.ErrorCode(err) == parley.CodeNotFound {
					return parley.Appointment{}, parley.FieldError("customer_id", "%q is not one of your customers", in.CustomerID)
				}
				return parley.Appointment{}, err
			}
			a := parley.Appointment{TenantID: t.ID, CustomerID: in.CustomerID, StartsAt: in.StartsAt.UTC(), Status: in.Status, Notes: in.Notes}
			if a.Status == "" {
				a.Status = parley.AppointmentScheduled
			}
			return s.store.CreateAppointment(ctx, a)
		},
		get: s.store.GetAppointment,
		list: func(ctx context.Context, tenantID string, p store.Page) ([]parley.Appointment, string, error) {
			return s.store.ListAppointments(ctx, tenantID, "", p)
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in appointmentPatch) (parley.Appointment, error) {
			a, err := s.store.GetAppointment(ctx, t.ID, id)
			if err != nil {
				return a, err
			}
			set(&a.StartsAt, in.StartsAt)
			set(&a.Status, in.Status)
			set(&a.Notes, in.Notes)
			a.StartsAt = a.StartsAt.UTC()
			return a, s.store.UpdateAppointment(ctx, a)
		},
		delete: s.store.DeleteAppointment,
	})
}
