package knowledge

import (
	"strings"
	"unicode"
)

// maxTerms bounds a query: a long message is searched by its first words.
const maxTerms = 16

// Terms splits text into its distinct content words, lower-cased, in
// order: runs of letters and digits, without stop words and one-letter
// words. Only these reach the search engines, so no query syntax can.
func Terms(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len([]rune(w)) < 2 || stopWords[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == maxTerms {
			break
		}
	}
	return out
}

// stem strips the common English inflections, enough for "refunds" to meet
// "refund" and "shipping" to meet "ship" when measuring coverage.
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 5 && strings.HasSuffix(w, "ing"):
		w = w[:n-3]
	case n > 4 && strings.HasSuffix(w, "ed"):
		w = w[:n-2]
	case n > 3 && strings.HasSuffix(w, "es") && !strings.HasSuffix(w, "ses"):
		w = w[:n-2]
	case n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		w = w[:n-1]
	}
	// "shipp" (from shipping) → "ship".
	if m := len(w); m > 3 && w[m-1] == w[m-2] && !strings.ContainsRune("aeiouls", rune(w[m-1])) {
		w = w[:m-1]
	}
	return w
}

func stems(text string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		out[stem(w)] = true
	}
	return out
}

// coverage is the share of terms whose stem appears in text.
func coverage(terms []string, text string) float64 {
	if len(terms) == 0 {
		return 0
	}
	have := stems(text)
	n := 0
	for _, t := range terms {
		if have[stem(t)] {
			n++
		}
	}
	return float64(n) / float64(len(terms))
}

// maxExcerpt bounds the offline answer; WhatsApp allows 4096 characters.
const maxExcerpt = 1500

// bestParagraph returns the body's paragraph (blank-line separated) that
// covers the terms best, the first among equals, cut to maxExcerpt.
func bestParagraph(terms []string, body string) string {
	best, bestScore := "", -1.0
	for _, p := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if s := coverage(terms, p); s > bestScore {
			best, bestScore = p, s
		}
	}
	if r := []rune(best); len(r) > maxExcerpt {
		best = strings.TrimSpace(string(r[:maxExcerpt])) + "…"
	}
	return best
}

// stopWords are English function words and chat filler that say nothing
// about what a customer asks.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does doing for from had has have
		hello hey hi how i if im in into is it its just me my no not of on or our please so some than thank thanks that the
		their them then there these they this to too up us was we were what when where which who why will with would
		you your yours ok okay yes`) {
		m[w] = true
	}
	return m
}()
