package leads

import (
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

// compose is the offline composer: with no LLM configured, it writes each
// channel's follow-up from the lead's data and the interactions alone, by
// fixed rules (README, "Lead sequences", "Without an LLM"):
//
//   - greeting: the lead's first name ("Hi Jane,"), or "Hello," without one;
//   - topic: the products of interest, else the first pain point, else the site;
//   - reference: the latest interaction ("Following up on our call on
//     2024-04-20, where we discussed …"), when there is one;
//   - value: the pain points, named as the lead's own words;
//   - call to action: by follow-up type (call, meeting, else a short overview),
//     with the budget range for leads in a proposal or negotiation stage;
//   - sign-off: the sales representative and the site.
//
// Values are stripped of brackets and braces first, so lead data can never
// put a placeholder-looking token into the text; sentences end with one
// mark ("Acme Inc." ends one as it is). The same input always gives the
// same output.
func compose(b brief) map[string]parley.LeadContent {
	l := b.Lead
	first := firstName(l.Name)
	company := clean(l.Company)
	site := clean(l.Sites.Name)
	if site == "" {
		site = "our team"
	}
	products := cleanAll(l.ProductInterest)
	pains := cleanAll(l.PainPoints)

	topic := joinAnd(products)
	if topic == "" && len(pains) > 0 {
		topic = pains[0]
	}
	if topic == "" {
		topic = "what " + site + " can do for you"
	}

	greeting := "Hello,"
	short := "Hello!"
	if first != "" {
		greeting, short = "Hi "+first+",", "Hi "+first+"!"
	}

	reference := ""
	last := Interaction{}
	if n := len(l.PreviousInteractions); n > 0 {
		last = l.PreviousInteractions[n-1]
		kind := strings.ToLower(clean(last.Type))
		if kind == "" {
			kind = "conversation"
		}
		reference = "Following up on our " + kind
		if d := clean(last.Date); d != "" {
			reference += " on " + d
		}
		if t := clean(last.Text()); t != "" {
			reference += ", where we covered: " + period(t)
		} else {
			reference += "."
		}
	} else {
		reference = period("Following up on your interest in " + topic)
	}

	value := ""
	if len(pains) > 0 {
		value = period("You mentioned "+joinAnd(pains)) + " "
		if len(products) > 0 {
			value += "That is exactly where " + joinAnd(products) + " helps"
		} else {
			value += site + " can help with that"
		}
		if company != "" {
			value += " teams like " + company
		}
		value = period(value)
	}

	cta := callToAction(clean(b.FollowUpType), clean(l.LeadStage), clean(l.BudgetRange), company)

	signer := site
	if b.Rep != nil && clean(b.Rep.Name) != "" {
		signer = clean(b.Rep.Name) + ", " + site
	}

	strategy := offlineStrategy(clean(l.LeadStage), last, pains, cta)
	forCompany := ""
	if company != "" {
		forCompany = " for " + company
	}

	email := greeting + "\n\n" + reference
	if value != "" {
		email += "\n\n" + value
	}
	email += "\n\n" + cta + "\n\nBest regards,\n" + signer

	whatsapp := short + " " + reference
	if value != "" && len(pains) > 0 {
		whatsapp += " " + period("You mentioned "+joinAnd(pains))
	}
	whatsapp += " " + cta + " - " + signer

	out := map[string]parley.LeadContent{
		parley.LeadChannelEmail: {
			Title: "Following up on " + topic + forCompany, Message: email, Strategy: "Email: " + strategy,
		},
		parley.LeadChannelWhatsApp: {
			Title: "Quick follow-up on " + topic, Message: whatsapp, Strategy: "WhatsApp: " + strategy,
		},
		parley.LeadChannelNotification: {
			Title:    "New for you: " + topic,
			Message:  notificationText(products, pains, site, company),
			Strategy: "Notification: " + strategy,
		},
		parley.LeadChannelWeb: {
			Title:    "Still exploring " + topic + "?",
			Message:  bannerText(products, pains, site, company),
			Strategy: "Web banner: " + strategy,
		},
	}
	chosen := make(map[string]parley.LeadContent, len(b.Channels))
	for _, ch := range b.Channels {
		chosen[ch] = out[ch]
	}
	return chosen
}

func callToAction(kind, stage, budget, company string) string {
	var cta string
	switch strings.ToLower(kind) {
	case "call", "phone", "phone call":
		cta = "Would you have 20 minutes for a call this week?"
	case "meeting", "demo":
		cta = "Could we book a short meeting in the coming days to go through it together?"
	default:
		// Worded so the company name never ends the question: "Acme Inc.?"
		cta = "Would it help if I sent you a short overview?"
		if company != "" {
			cta = "Would a short overview tailored to " + company + " help?"
		}
	}
	switch strings.ToLower(stage) {
	case "proposal", "negotiation", "qualified":
		if budget != "" {
			cta += " " + period("I can also prepare a proposal that fits a budget of "+budget)
		}
	}
	return cta
}

func offlineStrategy(stage string, last Interaction, pains []string, cta string) string {
	parts := []string{"offline composer (no LLM configured)"}
	if stage != "" {
		parts = append(parts, "lead stage "+stage)
	}
	if last.Type != "" || last.Date != "" {
		parts = append(parts, strings.TrimSpace("builds on the latest "+clean(last.Type)+" "+clean(last.Date)))
	}
	if len(pains) > 0 {
		parts = append(parts, "addresses "+joinAnd(pains))
	}
	parts = append(parts, "call to action: "+cta)
	return strings.Join(parts, "; ")
}

func notificationText(products, pains []string, site, company string) string {
	s := site + " has put together what matters for"
	if company != "" {
		s += " " + company
	} else {
		s += " you"
	}
	switch {
	case len(pains) > 0:
		s += ": a practical look at " + pains[0]
	case len(products) > 0:
		s += ": a closer look at " + joinAnd(products)
	}
	return period(s) + " Open it to see the details."
}

func bannerText(products, pains []string, site, company string) string {
	who := "teams like yours"
	if company != "" {
		who = "teams like " + company
	}
	s := fmt.Sprintf("See how %s helps %s", site, who)
	if len(pains) > 0 {
		s += " with " + joinAnd(pains)
	} else if len(products) > 0 {
		s += " with " + joinAnd(products)
	}
	return period(s)
}

// clean strips the characters placeholders are made of and extra spaces.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '{', '}', '[', ']', '<', '>', '%':
			return ' '
		}
		return r
	}, s)
	s = strings.ReplaceAll(s, "__", " ")
	return strings.Join(strings.Fields(s), " ")
}

// cleanAll cleans list items and drops their closing punctuation: an item
// is joined into a sentence ("a, b and c"), never ends one.
func cleanAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimRight(clean(s), ".!?;:, "); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func firstName(name string) string {
	f := strings.Fields(clean(name))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// period ends a sentence with a full stop unless it already ends with one,
// or with "!", "?" or "…": "Acme Inc." stays as it is.
func period(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), ",;:")
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") || strings.HasSuffix(s, "…") {
		return s
	}
	return s + "."
}

// joinAnd joins items as prose: "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
