package whatsapptest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MessageTemplate is a template a fake WhatsApp Business Account holds, as
// GET /{waba-id}/message_templates lists it.
type MessageTemplate struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Language   string           `json:"language"`
	Status     string           `json:"status"`   // APPROVED, PENDING, REJECTED, PAUSED, DISABLED
	Category   string           `json:"category"` // MARKETING, UTILITY, AUTHENTICATION
	Components []map[string]any `json:"components"`
}

// BodyTemplate makes an approved utility template whose body is text
// (with {{1}}, {{2}}, ... placeholders).
func BodyTemplate(name, language, text string) MessageTemplate {
	return MessageTemplate{Name: name, Language: language, Status: "APPROVED", Category: "UTILITY",
		Components: []map[string]any{{"type": "BODY", "text": text}}}
}

type account struct {
	token     string
	templates []MessageTemplate
}

// AddAccount makes a WhatsApp Business Account the token may read, holding
// the templates (in listing order).
func (f *FakeGraph) AddAccount(wabaID, token string, ts ...MessageTemplate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.accounts == nil {
		f.accounts = map[string]*account{}
	}
	for i := range ts {
		if ts[i].ID == "" {
			ts[i].ID = fmt.Sprintf("9%s%03d", wabaID[max(0, len(wabaID)-6):], i)
		}
	}
	f.accounts[wabaID] = &account{token: token, templates: ts}
}

// TemplateListings counts the template list requests answered, pages included.
func (f *FakeGraph) TemplateListings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listings
}

// serveTemplates answers GET /{waba-id}/message_templates a page at a time
// (limit, default 25; after, the previous page's cursor), with paging as
// the Graph API gives it: cursors, and next only when more follow.
func (f *FakeGraph) serveTemplates(w http.ResponseWriter, r *http.Request, wabaID string) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	acct := f.accounts[wabaID]
	f.mu.Unlock()
	if acct == nil || token == "" || acct.token != token {
		writeError(w, http.StatusBadRequest, 100,
			fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", wabaID), "")
		return
	}
	limit := 25
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, 100, "(#100) Param limit must be a positive integer", "")
			return
		}
		limit = n
	}
	start := 0
	if after := r.URL.Query().Get("after"); after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 100, "(#100) Invalid cursor", "")
			return
		}
		start = n
	}
	f.mu.Lock()
	f.listings++
	all := acct.templates
	f.mu.Unlock()
	start = min(start, len(all))
	end := min(start+limit, len(all))
	page := all[start:end]
	paging := map[string]any{"cursors": map[string]string{"before": strconv.Itoa(start), "after": strconv.Itoa(end)}}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("after", strconv.Itoa(end))
		paging["next"] = "http://" + r.Host + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "paging": paging})
}
