package leads

import (
	"errors"
	"fmt"
	"regexp"
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

// cadences are the one-word (or fixed-phrase) ways people name a spacing.
var cadences = map[string]time.Duration{
	"hourly": time.Hour, "daily": 24 * time.Hour, "every day": 24 * time.Hour,
	"every other day": 48 * time.Hour, "weekly": 7 * 24 * time.Hour, "every week": 7 * 24 * time.Hour,
	"every other week": 14 * 24 * time.Hour, "biweekly": 14 * 24 * time.Hour, "bi-weekly": 14 * 24 * time.Hour,
	"fortnightly": 14 * 24 * time.Hour, "monthly": 30 * 24 * time.Hour, "every month": 30 * 24 * time.Hour,
	"twice a week": 84 * time.Hour, "twice weekly": 84 * time.Hour,
}

// rangeSep finds "2-3 days", "2 to 3 days", "2 or 3 days".
var rangeSep = regexp.MustCompile(`^(\S+)\s*(?:-|–|to|or)\s*(\S+)\s+(\S+)$`)

// ParseInterval reads the spacing of a follow-up sequence as people write
// it: "3 days", "1 week", "every 2 weeks", "a fortnight", "three days",
// "48 hours", "2d", "1w", a Go duration such as "72h", a cadence such as
// "daily", "weekly" or "every other day", or a range such as "every 2-3
// days" (its longer end: a sequence never comes faster than asked). The
// result lies within MinInterval and MaxInterval; anything else is an
// error that says what is accepted.
func ParseInterval(s string) (time.Duration, error) {
	d, _, err := parseInterval(s)
	return d, err
}

// parseInterval is ParseInterval that also says how a range was read.
func parseInterval(s string) (time.Duration, string, error) {
	text := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	if d, ok := cadences[text]; ok {
		return d, "", nil
	}
	text = strings.TrimSpace(strings.TrimPrefix(text, "every "))
	if m := rangeSep.FindStringSubmatch(text); m != nil {
		lo, errLo := parseSimple(s, m[1]+" "+m[3])
		hi, errHi := parseSimple(s, m[2]+" "+m[3])
		if errLo != nil || errHi != nil || hi < lo {
			return 0, "", invalidInterval(s)
		}
		return hi, fmt.Sprintf("%q is a range: its longer end, %s, is used", clip(strings.TrimSpace(s), 40), Describe(hi)), nil
	}
	d, err := parseSimple(s, text)
	return d, "", err
}

// parseSimple reads one number and unit; s is the text as written, for errors.
func parseSimple(s, text string) (time.Duration, error) {
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

// Describe writes an interval the way a person would: "1 week", "3 days",
// "36 hours", "90 minutes".
func Describe(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	switch {
	case d%week == 0:
		return unit(int64(d/week), "week")
	case d%day == 0:
		return unit(int64(d/day), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64(d.Round(time.Minute)/time.Minute), "minute")
}

// Schedule is the spacing a follow-up's sequence uses, and how the
// request's followUpInterval (free text in the contract) was read.
type Schedule struct {
	// Requested is followUpInterval as sent; empty when none was.
	Requested string `json:"requested,omitempty"`
	// Interval is the spacing used, e.g. "3 days".
	Interval  string `json:"interval"`
	IntervalS int64  `json:"interval_seconds"`
	// Note says how the text was read, or why the default was used.
	Note string `json:"note,omitempty"`
}

func (s Schedule) duration() time.Duration { return time.Duration(s.IntervalS) * time.Second }

// ReadSchedule reads followUpInterval. Text that is no schedulable
// interval is not an error: the writers still get it as written, and the
// sequence uses DefaultInterval, which the note says.
func ReadSchedule(text string) Schedule {
	text = strings.TrimSpace(text)
	def, _ := ParseInterval(DefaultInterval)
	out := Schedule{Requested: text, Interval: DefaultInterval, IntervalS: int64(def / time.Second)}
	if text == "" {
		out.Note = "no followUpInterval given: the default, " + DefaultInterval + ", is used"
		return out
	}
	d, note, err := parseInterval(text)
	if err != nil {
		out.Note = fmt.Sprintf("followUpInterval cannot be scheduled (%v): the default, %s, is used, and the text still reaches the writers as written", err, DefaultInterval)
		return out
	}
	out.Interval, out.IntervalS, out.Note = Describe(d), int64(d/time.Second), note
	return out
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
	return fmt.Errorf("%q is not an interval: write a number and a unit, such as \"3 days\", \"1 week\" or \"12 hours\", or a cadence such as \"daily\" or \"weekly\"", clip(s, 40))
}
