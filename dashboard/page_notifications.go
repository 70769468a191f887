package dashboard

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
)

// Notifications: the customers' questions and support requests put to the
// staff, open ones first, with an answer form built from each one's answer
// schema, and the answered history.

func (d *Dashboard) notificationsPage() Page {
	p := Page{Name: "Notifications", Path: "/notifications"}
	if d.notify == nil {
		return p
	}
	p.Routes = func(rt Routes) {
		rt.Get("/notifications", d.notifications)
		rt.Get("/notifications/{id}", d.notification)
		rt.Post("/notifications/{id}/answer", d.answerNotification)
	}
	return p
}

type notificationsData struct {
	Items  []parley.Notification
	Status string
	Pager  Pager
}

func (d *Dashboard) notifications(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	data := notificationsData{Status: q.Get("status")}
	if data.Status != "answered" && data.Status != "all" {
		data.Status = "requested"
	}
	f := store.NotificationFilter{Status: parley.NotificationStatus(data.Status)}
	if data.Status == "all" {
		f.Status = ""
	}
	items, next, err := d.notify.List(r.Context(), s.TenantID, f, store.Page{Limit: listSize, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	data.Items, data.Pager = items, pager(r, "cursor", next)
	return d.render(w, r, s, http.StatusOK, "notifications", data)
}

// answerField is one input of the answer form, read from the answer schema.
type answerField struct {
	Name, Description string
	Required          bool
	MaxLength         int
}

type notificationData struct {
	N          parley.Notification
	Label      string
	Requested  []answerField // the requested fields, in the type's order
	Fields     []answerField
	Answerable bool
	Form       *Form
	Problem    string // a form-wide message, e.g. already answered
	AnsweredBy string // who answered, by name
}

// schemaFields lists an answer schema's properties, required ones first,
// each group by name.
func schemaFields(schema map[string]any) []answerField {
	props, _ := schema["properties"].(map[string]any)
	required := map[string]bool{}
	if list, ok := schema["required"].([]any); ok {
		for _, v := range list {
			if name, ok := v.(string); ok {
				required[name] = true
			}
		}
	}
	var out []answerField
	for name, raw := range props {
		p, _ := raw.(map[string]any)
		f := answerField{Name: name, Required: required[name]}
		f.Description, _ = p["description"].(string)
		if max, ok := p["maxLength"].(float64); ok {
			f.MaxLength = int(max)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Required != out[j].Required {
			return out[i].Required
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (d *Dashboard) notificationView(ctx context.Context, n parley.Notification, f *Form) notificationData {
	data := notificationData{N: n, Fields: schemaFields(n.AnswerSchema), Answerable: notify.Answerable(n), Form: f,
		AnsweredBy: d.answererName(ctx, n.TenantID, n.AnsweredBy)}
	if spec, ok := notify.SpecOf(n.Type); ok {
		data.Label = spec.Label
		for _, rf := range spec.Requested {
			data.Requested = append(data.Requested, answerField{Name: rf.Name, Description: n.Requested[rf.Name]})
		}
	}
	if data.Form == nil {
		data.Form = newForm()
	}
	return data
}

func (d *Dashboard) notification(w http.ResponseWriter, r *http.Request, s *Session) error {
	n, err := d.notify.Get(r.Context(), s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return d.render(w, r, s, http.StatusOK, "notification", d.notificationView(r.Context(), n, nil))
}

func (d *Dashboard) answerNotification(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	n, err := d.notify.Get(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	fields := schemaFields(n.AnswerSchema)
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	form := readForm(r, names...)
	answer := map[string]any{}
	for _, f := range fields {
		if v := form.Get(f.Name); v != "" || f.Required {
			answer[f.Name] = v
		}
	}
	_, err = d.notify.Answer(ctx, s.TenantID, n.ID, answer, notify.ByUser(s.User.ID))
	if err == nil {
		return redirect(w, r, "/notifications/"+n.ID)
	}
	data := d.notificationView(ctx, n, form)
	switch parley.ErrorCode(err) {
	case parley.CodeValidation:
		fallback := ""
		if len(names) > 0 {
			fallback = names[0]
		}
		if !form.Absorb(err, fallback) {
			return err
		}
		return d.render(w, r, s, http.StatusUnprocessableEntity, "notification", data)
	case parley.CodeAlreadyAnswered:
		if n, err = d.notify.Get(ctx, s.TenantID, n.ID); err != nil {
			return err
		}
		data = d.notificationView(ctx, n, form)
		data.Problem = n.Ref + " was already answered by someone else; your answer was not sent."
		return d.render(w, r, s, http.StatusConflict, "notification", data)
	}
	return err
}

// answererName says who answered in words a person reads: the dashboard
// user's or staff member's name (and how), rather than a stored reference.
func (d *Dashboard) answererName(ctx context.Context, tenantID, by string) string {
	switch kind, id, _ := strings.Cut(by, ":"); kind {
	case "":
		return ""
	case "dashboard":
		if u, err := d.store.GetUser(ctx, tenantID, id); err == nil {
			return u.Name + " (dashboard)"
		}
		return "a dashboard user who no longer exists"
	case "staff":
		if m, err := d.store.GetStaffMember(ctx, tenantID, id); err == nil {
			return m.Name + " (staff, on WhatsApp)"
		}
		return "a staff member who no longer exists"
	case "api":
		return "the API"
	default:
		return by
	}
}
