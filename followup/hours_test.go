package followup

import (
	"testing"
	"time"

	"github.com/parleyhq/parley"
)

func TestNextOpening(t *testing.T) {
	t.Parallel()
	weekdays := parley.WeeklyHours{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		weekdays[d] = []parley.Interval{{Start: "09:00", End: "12:00"}, {Start: "14:00", End: "18:00"}}
	}
	lateNight := parley.WeeklyHours{"saturday": {{Start: "20:00", End: "24:00"}}}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name  string
		zone  string
		hours parley.WeeklyHours
		now   string
		want  string
	}{
		{"no schedule is always open", "UTC", nil, "2025-03-08T03:00:00Z", "2025-03-08T03:00:00Z"},
		{"open", "America/Sao_Paulo", weekdays, "2025-03-05T13:00:00Z", "2025-03-05T13:00:00Z"},        // Wed 10:00 -03
		{"lunch break", "America/Sao_Paulo", weekdays, "2025-03-05T15:30:00Z", "2025-03-05T17:00:00Z"}, // 12:30 → 14:00
		{"friday evening waits for monday", "America/Sao_Paulo", weekdays, "2025-03-07T22:00:00Z", "2025-03-10T12:00:00Z"},
		{"spring forward: Monday 09:00 EDT", "America/New_York", weekdays, "2025-03-08T23:00:00Z", "2025-03-10T13:00:00Z"},
		{"fall back: Monday 09:00 EST", "America/New_York", weekdays, "2025-11-01T23:00:00Z", "2025-11-03T14:00:00Z"},
		{"end at 24:00 is exclusive midnight", "UTC", lateNight, "2025-03-08T23:59:00Z", "2025-03-08T23:59:00Z"},
		{"a week later", "UTC", lateNight, "2025-03-09T00:00:00Z", "2025-03-15T20:00:00Z"},
		{"end is exclusive", "America/Sao_Paulo", weekdays, "2025-03-05T21:00:00Z", "2025-03-06T12:00:00Z"}, // 18:00 → Thu 09:00
	}
	for _, tc := range cases {
		got, err := NextOpening(parley.Tenant{TimeZone: tc.zone, Availability: tc.hours}, utc(tc.now))
		if err != nil || !got.Equal(utc(tc.want)) {
			t.Errorf("%s: NextOpening(%s) = %s, %v; want %s", tc.name, tc.now, got, err, tc.want)
		}
	}
}

func TestDelays(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2h": 2 * time.Hour, "3d": 72 * time.Hour, "1h30m": 90 * time.Minute, " 2H ": 2 * time.Hour} {
		if got, err := ParseDelay(in); err != nil || got != want {
			t.Errorf("ParseDelay(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "30", "m", "-5m", "2 h", "1w"} {
		if _, err := ParseDelay(in); err == nil {
			t.Errorf("ParseDelay(%q) accepted", in)
		}
	}
	for d, want := range map[time.Duration]string{72 * time.Hour: "3d", 90 * time.Minute: "1h30m", 26 * time.Hour: "1d2h"} {
		if got := FormatDelay(d); got != want {
			t.Errorf("FormatDelay(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestSurveyAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		survey parley.SurveyType
		raw    string
		answer string
		score  int
		ok     bool
	}{
		{parley.SurveyYesNo, "Yes!", "yes", 1, true},
		{parley.SurveyYesNo, "no", "no", 0, true},
		{parley.SurveyYesNo, "maybe", "", 0, false},
		{parley.SurveyCSAT, "4 - Good", "4", 4, true},
		{parley.SurveyCSAT, "0", "", 0, false},
		{parley.SurveyNPS, "10", "10", 10, true},
		{parley.SurveyNPS, "0", "0", 0, true},
		{parley.SurveyNPS, "11", "", 0, false},
	}
	for _, tc := range cases {
		a, s, ok := parseAnswer(tc.survey, tc.raw)
		if a != tc.answer || s != tc.score || ok != tc.ok {
			t.Errorf("parseAnswer(%s, %q) = %q %d %v", tc.survey, tc.raw, a, s, ok)
		}
	}
}
