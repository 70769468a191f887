package leads

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley"
)

// WhatsAppMaxText is WhatsApp's limit on a text message body, in characters.
const WhatsAppMaxText = 4096

// maxSubject keeps e-mail subjects to what inboxes show.
const maxSubject = 200

// placeholderPatterns find template variables a model (or a careless
// template) leaves in text that must be ready to send.
var placeholderPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\{\{[^{}]*\}\}`),                        // {{first_name}}
	regexp.MustCompile(`\$\{[^{}]*\}`),                          // ${name}
	regexp.MustCompile(`\{\s*[A-Za-z_][\w .\-]{0,40}\}`),        // {name}, {Company Name}
	regexp.MustCompile(`\[\s*[A-Za-z][A-Za-z _.'\-]{0,40}\]`),   // [Name], [Your Name], [insert date]
	regexp.MustCompile(`<\s*/?\s*[A-Za-z_][\w \-]{0,40}\s*/?>`), // <company>, <first name>, and HTML tags
	regexp.MustCompile(`%[A-Z][A-Z_]{1,40}%`),                   // %FIRST_NAME%
	regexp.MustCompile(`__[A-Z][A-Z_]{1,40}__`),                 // __NAME__
	regexp.MustCompile(`(?i)\b(?:lorem ipsum|insert (?:name|company|date|link) here)\b`),
}

// Placeholders returns the placeholders found in s, in order.
func Placeholders(s string) []string {
	type hit struct {
		at   int
		text string
	}
	var hits []hit
	for _, re := range placeholderPatterns {
		for _, loc := range re.FindAllStringIndex(s, -1) {
			hits = append(hits, hit{loc[0], s[loc[0]:loc[1]]})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	out := make([]string, 0, len(hits))
	seen := map[string]bool{}
	for _, h := range hits {
		if !seen[h.text] {
			seen[h.text] = true
			out = append(out, h.text)
		}
	}
	return out
}

// problems lists what makes generated content unfit to send: a channel
// missing or empty, a placeholder, a WhatsApp text over the limit.
func problems(content map[string]parley.LeadContent, channels []string) []string {
	var out []string
	for _, ch := range channels {
		c, ok := content[ch]
		if !ok {
			out = append(out, fmt.Sprintf("%s: missing", ch))
			continue
		}
		if strings.TrimSpace(c.Title) == "" {
			out = append(out, fmt.Sprintf("%s.title: empty", ch))
		}
		if strings.TrimSpace(c.Message) == "" {
			out = append(out, fmt.Sprintf("%s.message: empty", ch))
		}
		for field, text := range map[string]string{"title": c.Title, "message": c.Message} {
			if ph := Placeholders(text); len(ph) > 0 {
				out = append(out, fmt.Sprintf("%s.%s: placeholders %s", ch, field, strings.Join(ph, ", ")))
			}
		}
		if ch == parley.LeadChannelWhatsApp && utf8.RuneCountInString(strings.TrimSpace(c.Message)) > WhatsAppMaxText {
			out = append(out, fmt.Sprintf("whatsapp.message: longer than %d characters", WhatsAppMaxText))
		}
	}
	sort.Strings(out)
	return out
}

// fatal reports whether any problem is one tidy-up cannot fix (everything
// but an over-long WhatsApp text, which is cut at a word).
func fatal(probs []string) bool {
	for _, p := range probs {
		if !strings.HasPrefix(p, "whatsapp.message: longer") {
			return true
		}
	}
	return false
}

// tidy makes accepted content ready to send: trimmed, the e-mail subject
// on one line, the WhatsApp text within its limit, and only the asked
// channels kept.
func tidy(content map[string]parley.LeadContent, channels []string) map[string]parley.LeadContent {
	out := make(map[string]parley.LeadContent, len(channels))
	for _, ch := range channels {
		c := content[ch]
		c.Title = strings.Join(strings.Fields(c.Title), " ")
		c.Message = strings.TrimSpace(strings.ReplaceAll(c.Message, "\r\n", "\n"))
		c.Strategy = strings.TrimSpace(c.Strategy)
		switch ch {
		case parley.LeadChannelEmail:
			c.Title = cutAtWord(c.Title, maxSubject)
		case parley.LeadChannelWhatsApp:
			c.Message = cutAtWord(c.Message, WhatsAppMaxText)
		}
		out[ch] = c
	}
	return out
}

// cutAtWord shortens s to at most n characters, at a word boundary when
// one is near, ending with an ellipsis.
func cutAtWord(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := r[:n-1]
	if i := strings.LastIndexAny(string(cut), " \n"); i > 0 && utf8.RuneCountInString(string(cut)[:i]) > n*3/4 {
		cut = []rune(string(cut)[:i])
	}
	return strings.TrimSpace(string(cut)) + "…"
}
