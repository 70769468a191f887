package whatsapp_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// The listing is read page by page from the fake Graph API, and each
// template's body parameters are counted once per placeholder.
func TestListTemplatesFollowsPagingAndCountsParameters(t *testing.T) {
	f := whatsapptest.NewFakeGraph()
	defer f.Close()
	ts := []whatsapptest.MessageTemplate{
		whatsapptest.BodyTemplate("twice", "en_US", "{{1}} and {{2}}, again {{1}}"),
		whatsapptest.BodyTemplate("named", "en_US", "Hi {{first_name}}, about {{ order_id }}"),
		{Name: "header_only", Language: "en_US", Status: "APPROVED", Components: []map[string]any{{"type": "HEADER", "format": "TEXT", "text": "Hi"}}},
	}
	for i := range 205 {
		ts = append(ts, whatsapptest.BodyTemplate(fmt.Sprintf("t%03d", i), "pt_BR", "Oi"))
	}
	f.AddAccount("102000000000042", "tok", ts...)
	c, err := whatsapp.NewClient(whatsapp.Config{BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ListTemplates(context.Background(), "tok", "102000000000042")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 208 || f.TemplateListings() != 3 {
		t.Fatalf("%d templates in %d listings", len(got), f.TemplateListings())
	}
	for i, want := range []int{2, 2, 0} {
		if n := got[i].BodyParams(); n != want {
			t.Errorf("%s: %d body parameters, want %d", got[i].Name, n, want)
		}
	}
	if _, err := c.ListTemplates(context.Background(), "other-token", "102000000000042"); err == nil {
		t.Fatal("another token listed the account")
	}
	if _, err := c.ListTemplates(context.Background(), "tok", "../me"); parley.ErrorCode(err) != parley.CodeValidation {
		t.Fatalf("a malformed account id: %v", err)
	}
}
