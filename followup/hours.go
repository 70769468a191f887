package followup

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/parleyhq/parley"
)

var weekdayNames = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// NextOpening returns now when the tenant's availability hours are open at
// now (or it has none), else the start of the next opening. Openings are
// built from local dates and clock times in the tenant's zone, so a
// daylight-saving change moves them in UTC as it should.
func NextOpening(t parley.Tenant, now time.Time) (time.Time, error) {
	if len(t.Availability) == 0 {
		return now, nil
	}
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		return now, fmt.Errorf("tenant time zone %q: %w", t.TimeZone, err)
	}
	local := now.In(loc)
	y, m, d := local.Date()
	// Yesterday's interval may run past midnight only with "24:00", which
	// ends at today's midnight, so starting at today is enough; eight days
	// cover a weekly schedule whose only opening is earlier today.
	for offset := 0; offset <= 7; offset++ {
		day := time.Date(y, m, d+offset, 12, 0, 0, 0, loc) // noon: never in a DST gap
		intervals := append([]parley.Interval(nil), t.Availability[weekdayNames[day.Weekday()]]...)
		sort.Slice(intervals, func(i, j int) bool { return intervals[i].Start < intervals[j].Start })
		for _, iv := range intervals {
			start, err1 := clockOn(day, iv.Start, loc)
			end, err2 := clockOn(day, iv.End, loc)
			if err1 != nil || err2 != nil {
				return now, fmt.Errorf("availability %s %s–%s: bad time", weekdayNames[day.Weekday()], iv.Start, iv.End)
			}
			if !now.Before(start) && now.Before(end) {
				return now, nil
			}
			if start.After(now) {
				return start.UTC(), nil
			}
		}
	}
	return now, fmt.Errorf("availability hours have no opening")
}

// clockOn is the instant of "HH:MM" on day's date in loc ("24:00" is the
// next midnight).
func clockOn(day time.Time, hhmm string, loc *time.Location) (time.Time, error) {
	if len(hhmm) != 5 || hhmm[2] != ':' {
		return time.Time{}, fmt.Errorf("bad time %q", hhmm)
	}
	h, err1 := strconv.Atoi(hhmm[:2])
	mi, err2 := strconv.Atoi(hhmm[3:])
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("bad time %q", hhmm)
	}
	y, m, d := day.Date()
	return time.Date(y, m, d, h, mi, 0, 0, loc), nil
}
