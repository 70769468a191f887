package whatsapp

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/parleyhq/parley"
)

// MessageTemplate is one template of a WhatsApp Business Account.
type MessageTemplate struct {
	Name       string           `json:"name"`
	Language   string           `json:"language"`
	Status     string           `json:"status"`
	Category   string           `json:"category"`
	Components []map[string]any `json:"components"`
}

// BodyParams counts the distinct placeholders of the template's body
// ({{1}}, {{2}} or named {{first_name}}): what a send must fill.
func (t MessageTemplate) BodyParams() int {
	for _, c := range t.Components {
		if typ, _ := c["type"].(string); strings.EqualFold(typ, "BODY") {
			text, _ := c["text"].(string)
			seen := map[string]bool{}
			for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
				seen[m[1]] = true
			}
			return len(seen)
		}
	}
	return 0
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// maxTemplatePages bounds a listing: 100 pages of 100 is far beyond any
// account's template quota.
const maxTemplatePages = 100

// ListTemplates reads every template of the WhatsApp Business Account,
// following the listing's cursor page by page.
func (c *Client) ListTemplates(ctx context.Context, token, wabaID string) ([]MessageTemplate, error) {
	if err := validCredentials(token, wabaID); err != nil {
		if pe, ok := err.(*parley.Error); ok && pe.Field == "phone_number_id" {
			return nil, parley.FieldError("waba_id", "%q is not a numeric WhatsApp Business Account id", wabaID)
		}
		return nil, err
	}
	var out []MessageTemplate
	q := url.Values{"fields": {"name,language,status,category,components"}, "limit": {"100"}}
	for range maxTemplatePages {
		var page struct {
			Data   []MessageTemplate `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.graph.Call(ctx, http.MethodGet, wabaID+"/message_templates", q, token, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Data...)
		// The next page is asked of our own base URL with the cursor, never
		// of the URL the answer names.
		if page.Paging.Next == "" || page.Paging.Cursors.After == "" || len(page.Data) == 0 {
			return out, nil
		}
		q.Set("after", page.Paging.Cursors.After)
	}
	return out, nil
}
