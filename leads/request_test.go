package leads

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
)

const (
	siteID = "0190f5a4-8a39-7b1c-9d2e-3f4a5b6c7d8e"
	leadID = "0190f5a4-8a39-7b1c-9d2e-3f4a5b6c7d8f"
)

func TestParseRequestOrderAndCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, code, contains string
	}{
		{"empty body", ``, CodeInvalidRequest, "empty"},
		{"not json", `{"siteId":`, CodeInvalidRequest, "JSON object"},
		{"array", `[1,2]`, CodeInvalidRequest, "JSON object"},
		{"null", `null`, CodeInvalidRequest, "JSON object"},
		{"site missing", `{"leadId":"` + leadID + `"}`, CodeInvalidRequest, "siteId is required"},
		{"lead missing", `{"siteId":"` + siteID + `"}`, CodeInvalidRequest, "leadId is required"},
		{"both missing names site first", `{}`, CodeInvalidRequest, "siteId is required"},
		{"site empty", `{"siteId":"","leadId":"` + leadID + `"}`, CodeInvalidRequest, "siteId is required"},
		{"site not a string", `{"siteId":42,"leadId":"` + leadID + `"}`, CodeInvalidRequest, "siteId must be a string"},
		{"format error before missing id", `{"leadId":"` + leadID + `","productInterest":"x"}`, CodeInvalidRequest, "productInterest must be an array"},
		{"site not uuid", `{"siteId":"site_456","leadId":"` + leadID + `"}`, CodeInvalidInput, "siteId must be a UUID"},
		{"lead not uuid", `{"siteId":"` + siteID + `","leadId":"lead_789"}`, CodeInvalidInput, "leadId must be a UUID"},
		{"agent not uuid", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","agent_id":"agent_sales_123"}`, CodeInvalidInput, "agentId must be a UUID"},
		{"uuid checked before phone", `{"siteId":"x","leadId":"` + leadID + `","phone_number":""}`, CodeInvalidInput, "siteId"},
		{"phone empty", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","phone_number":""}`, CodeInvalidPhoneNumber, "at least 7 digits"},
		{"phone short", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","phone_number":"+1 234 56"}`, CodeInvalidPhoneNumber, "7 digits"},
		{"phone letters", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","phone_number":"call 5551234567"}`, CodeInvalidPhoneNumber, ""},
		{"spellings disagree", `{"siteId":"` + siteID + `","site_id":"` + leadID + `","leadId":"` + leadID + `"}`, CodeInvalidRequest, "disagree"},
		{"interactions wrong", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","previousInteractions":[{"date":1}]}`, CodeInvalidRequest, "previousInteractions[0]"},
		{"leadData not object", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","leadData":"Jane"}`, CodeInvalidRequest, "leadData must be an object"},
		{"schedule not bool", `{"siteId":"` + siteID + `","leadId":"` + leadID + `","schedule":"yes"}`, CodeInvalidRequest, "schedule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(c.body))
			if err == nil {
				t.Fatalf("accepted %s", c.body)
			}
			if err.Code != c.code || !strings.Contains(err.Message, c.contains) {
				t.Fatalf("got %s %q, want %s containing %q", err.Code, err.Message, c.code, c.contains)
			}
		})
	}
}

func TestParseRequestBothSpellings(t *testing.T) {
	t.Parallel()
	const userID, agentID, visitorID = "0190f5a4-8a39-7b1c-9d2e-3f4a5b6c7d80", "0190f5a4-8a39-7b1c-9d2e-3f4a5b6c7d81", "0190f5a4-8a39-7b1c-9d2e-3f4a5b6c7d82"
	camel := `{"siteId":"` + siteID + `","leadId":"` + leadID + `","userId":"` + userID + `","agentId":"` + agentID + `","visitorId":"` + visitorID + `",
		"followUpType":"call","leadStage":"qualified","followUpInterval":"1 week","productInterest":["analytics"],
		"previousInteractions":[{"date":"2024-04-15","type":"email","summary":"Intro"}],
		"leadData":{"name":"Jane Smith","painPoints":"measuring ROI","budgetRange":"$5k"},"phoneNumber":"+44 20 7946 0958","schedule":true}`
	snake := `{"site_id":"` + siteID + `","lead_id":"` + leadID + `","user_id":"` + userID + `","agent_id":"` + agentID + `","visitor_id":"` + visitorID + `",
		"follow_up_type":"call","lead_stage":"qualified","follow_up_interval":"1 week","product_interest":["analytics"],
		"previous_interactions":[{"date":"2024-04-15","type":"email","summary":"Intro"}],
		"lead_data":{"name":"Jane Smith","pain_points":["measuring ROI"],"budget_range":"$5k"},"phone_number":"+44 20 7946 0958","schedule":true}`
	a, err := ParseRequest([]byte(camel))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseRequest([]byte(snake))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Request{a, b} {
		if r.SiteID != siteID || r.LeadID != leadID || r.UserID != userID || r.AgentID != agentID || r.VisitorID != visitorID {
			t.Fatalf("ids: %+v", r)
		}
		if r.Interval != 7*24*time.Hour || !r.Schedule || r.FollowUpType != "call" || r.LeadStage != "qualified" || r.PhoneNumber != "+44 20 7946 0958" {
			t.Fatalf("fields: %+v", r)
		}
		if r.LeadData == nil || *r.LeadData.Name != "Jane Smith" || *r.LeadData.BudgetRange != "$5k" || len(r.LeadData.PainPoints) != 1 {
			t.Fatalf("lead data: %+v", r.LeadData)
		}
		if len(r.PreviousInteractions) != 1 || r.PreviousInteractions[0].Text() != "Intro" || len(r.ProductInterest) != 1 {
			t.Fatalf("lists: %+v", r)
		}
	}
}

func TestParseInterval(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	good := map[string]time.Duration{
		"3 days": 3 * day, "1 week": 7 * day, "every 2 weeks": 14 * day, "a fortnight": 14 * day, "three days": 3 * day,
		"48 hours": 48 * time.Hour, "2d": 2 * day, "1w": 7 * day, "72h": 72 * time.Hour, " 1 Day ": day, "week": 7 * day,
		"1.5 weeks": day * 21 / 2, "1 month": 30 * day,
		"daily": day, "Weekly": 7 * day, "every day": day, "every other day": 2 * day, "fortnightly": 14 * day, "monthly": 30 * day,
		"every 2-3 days": 3 * day, "2 to 3 weeks": 21 * day, "every 1 or 2 days": 2 * day, "twice a week": 84 * time.Hour,
	}
	for in, want := range good {
		got, err := ParseInterval(in)
		if err != nil || got != want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "0 days", "-3 days", "3 lightyears", "30 minutes", "200 days", "1e9 days", "999999999999 months", "3 days 2 hours", "-72h", "3-2 days", "2-3 lightyears", "every 30-40 minutes"} {
		if d, err := ParseInterval(in); err == nil {
			t.Errorf("ParseInterval(%q) = %v, want an error", in, d)
		}
	}
}

// TestReadSchedule: free text is never refused; the schedule says what a
// sequence uses and why.
func TestReadSchedule(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, interval, note string }{
		{"", "3 days", "no followUpInterval"},
		{"3 days", "3 days", ""},
		{"72h", "3 days", ""},
		{"weekly", "1 week", ""},
		{"every 2-3 days", "3 days", "longer end"},
		{"36 hours", "36 hours", ""},
		{"as soon as possible", "3 days", "default"},
		{"every 200 days", "3 days", "outside the allowed range"},
	}
	for _, c := range cases {
		got := ReadSchedule(c.in)
		if got.Interval != c.interval || got.Requested != c.in || (c.note == "") != (got.Note == "") || !strings.Contains(got.Note, c.note) {
			t.Errorf("ReadSchedule(%q) = %+v", c.in, got)
		}
	}
	r, err := ParseRequest([]byte(`{"siteId":"` + siteID + `","leadId":"` + leadID + `","followUpInterval":"soonish"}`))
	if err != nil || r.FollowUpInterval != "soonish" || r.Interval != 0 {
		t.Fatalf("free text refused or lost: %+v %v", r, err)
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	found := []string{
		"Hi {{first_name}},", "Hi {name}!", "Dear [Name],", "Best, [Your Name]", "at <company>", "Hello %FIRST_NAME%",
		"Cheers ${rep}", "Hi __NAME__", "[insert date]", "Insert name here please", "<p>Hello</p>",
	}
	for _, s := range found {
		if len(Placeholders(s)) == 0 {
			t.Errorf("no placeholder found in %q", s)
		}
	}
	clean := []string{
		"Hi Jane, following up on our call.", "Write to Jane <jane@acme.com> anytime.", "Save 15+ hours (or more) per week!",
		"Budget: $5000-$10000", "I <3 analytics", "Scores 100% of the time",
	}
	for _, s := range clean {
		if ph := Placeholders(s); len(ph) > 0 {
			t.Errorf("false placeholders %q in %q", ph, s)
		}
	}
}

func TestComposeIsDeterministicAndReady(t *testing.T) {
	t.Parallel()
	b := brief{
		Lead: LeadView{Name: "Jane Smith", Company: "Acme Inc.", Position: "Marketing Director", Email: "jane@acme.com",
			PainPoints: []string{"time-consuming content creation", "measuring ROI"}, BudgetRange: "$5000-$10000", LeadStage: "qualified",
			Sites: SiteRef{Name: "Acme Website", URL: "https://acme.example"},
			PreviousInteractions: []Interaction{
				{Date: "2024-04-15", Type: "email", Summary: "Initial contact"},
				{Date: "2024-04-20", Type: "call", Summary: "Discussed pricing"},
			},
			ProductInterest: []string{"content automation", "analytics dashboard"}},
		Rep:          &Rep{Name: "Maria Lopez"},
		FollowUpType: "call",
		Channels:     []string{"email", "whatsapp", "notification", "web"},
	}
	a, c := compose(b), compose(b)
	if len(a) != 4 {
		t.Fatalf("channels: %v", a)
	}
	for ch, got := range a {
		if got != c[ch] {
			t.Fatalf("%s differs between runs", ch)
		}
	}
	if p := problems(a, b.Channels); len(p) > 0 {
		t.Fatalf("composer output unfit: %v", p)
	}
	email := a["email"]
	for _, want := range []string{"Hi Jane,", "call on 2024-04-20", "Discussed pricing", "measuring ROI", "20 minutes", "$5000-$10000", "Maria Lopez, Acme Website"} {
		if !strings.Contains(email.Message, want) {
			t.Errorf("email lacks %q:\n%s", want, email.Message)
		}
	}
	if email.Title != "Following up on content automation and analytics dashboard for Acme Inc." {
		t.Errorf("subject %q", email.Title)
	}

	// Hostile lead data cannot smuggle a placeholder into the text.
	b.Lead.Name, b.Lead.Company = "[Name]", "{{company}}"
	if p := problems(compose(b), b.Channels); len(p) > 0 {
		t.Fatalf("placeholders leaked from data: %v", p)
	}
}

func TestTidyCutsWhatsAppAtLimit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 1000) // 5000 characters
	got := tidy(map[string]parley.LeadContent{"whatsapp": {Title: "t", Message: long}}, []string{"whatsapp"})["whatsapp"].Message
	if n := len([]rune(got)); n > WhatsAppMaxText || n < WhatsAppMaxText*3/4 {
		t.Fatalf("cut to %d characters", n)
	}
}

// FuzzParseRequest: no body crashes the parser; an accepted request has
// UUID ids and a bounded interval; a rejected one has a contract code.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/requests/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			switch err.Code {
			case CodeInvalidRequest, CodeInvalidInput, CodeInvalidPhoneNumber:
			default:
				t.Fatalf("unexpected code %s", err.Code)
			}
			if err.Status() != 400 || err.Message == "" {
				t.Fatalf("bad error %+v", err)
			}
			return
		}
		if len(r.SiteID) != 36 || len(r.LeadID) != 36 {
			t.Fatalf("accepted ids %q %q", r.SiteID, r.LeadID)
		}
		if r.Interval != 0 && (r.Interval < MinInterval || r.Interval > MaxInterval) {
			t.Fatalf("interval %v", r.Interval)
		}
		again, err2 := ParseRequest(body)
		if err2 != nil || again.SiteID != r.SiteID || again.Interval != r.Interval {
			t.Fatal("not deterministic")
		}
	})
}
