package leads

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of a follow-up interval: closer than an hour is pestering, and a
// sequence spread over more than 90 days between touches has gone cold.
const (
	MinInterval     = time.Hour
	MaxInterval     = 90 * 24 * time.Hour
	DefaultInterval = "3 days"
)

var unitLengths = map[string]time.Duration{
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "wk": 7 * 24 * time.Hour, "wks": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"fortnight": 14 * 24 * time.Hour, "fortnights": 14 * 24 * time.Hour,
	// A month is taken as 30 days: a sequence needs a fixed spacing.
	"month": 30 * 24 * time.Hour, "months": 30 * 24 * time.Hour,
}

var numberWords = map[string]int{
	"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "thirty": 30,
}

// ParseInterval reads the spacing of a follow-up sequence as people write
// it: "3 days", "1 week", "every 2 weeks", "a fortnight", "three days",
// "48 hours", "2d", "1w", or a Go duration such as "72h". The result lies
// within MinInterval and MaxInterval; anything else is an error that says
// what is accepted.
func ParseInterval(s string) (time.Duration, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	text = strings.TrimPrefix(text, "every ")
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, errors.New("is empty")
	}
	if d, err := time.ParseDuration(text); err == nil && !strings.ContainsAny(text, " ") {
		return bounded(s, d)
	}
	num, unit := splitNumber(text)
	n := 1
	switch {
	case num != "":
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v <= 0 {
			return 0, invalidInterval(s)
		}
		length, ok := unitLengths[unit]
		if !ok {
			return 0, invalidInterval(s)
		}
		f := v * float64(length)
		if f > float64(MaxInterval) {
			return bounded(s, MaxInterval+1) // the range error, without overflowing
		}
		return bounded(s, time.Duration(f))
	default:
		words := strings.Fields(text)
		if len(words) == 2 {
			v, ok := numberWords[words[0]]
			if !ok {
				return 0, invalidInterval(s)
			}
			n, unit = v, words[1]
		} else if len(words) == 1 {
			unit = words[0] // "week", "day": one of them
		} else {
			return 0, invalidInterval(s)
		}
	}
	length, ok := unitLengths[unit]
	if !ok {
		return 0, invalidInterval(s)
	}
	return bounded(s, time.Duration(n)*length)
}

// splitNumber splits "3 days", "3days" or "1.5 weeks" into its number and
// unit; num is "" when the text does not start with a digit.
func splitNumber(text string) (num, unit string) {
	i := 0
	for i < len(text) && (text[i] >= '0' && text[i] <= '9' || text[i] == '.') {
		i++
	}
	return text[:i], strings.TrimSpace(text[i:])
}

func bounded(s string, d time.Duration) (time.Duration, error) {
	if d < MinInterval || d > MaxInterval {
		return 0, fmt.Errorf("%q is outside the allowed range of 1 hour to 90 days", clip(s, 40))
	}
	return d, nil
}

func invalidInterval(s string) error {
	return fmt.Errorf("%q is not an interval: write a number and a unit, such as \"3 days\", \"1 week\" or \"12 hours\"", clip(s, 40))
}
