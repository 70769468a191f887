package followup

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// Bounds of a rule's delay.
const (
	MinDelay           = time.Minute
	MaxDelay           = 90 * 24 * time.Hour
	DefaultReplyWindow = 24 * time.Hour
)

var delayPart = regexp.MustCompile(`(\d+)([smhd])`)

// ParseDelay reads a delay such as "30m", "2h", "3d" or "1h30m".
func ParseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || delayPart.ReplaceAllString(s, "") != "" {
		return 0, fmt.Errorf("%q is not a delay like 30m, 2h or 3d", s)
	}
	var d time.Duration
	for _, m := range delayPart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 1_000_000 {
			return 0, fmt.Errorf("%q is too long", s)
		}
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
		// Parts must not wrap around int64 into a plausible delay.
		if time.Duration(n) > (math.MaxInt64-d)/unit {
			return 0, fmt.Errorf("%q is too long", s)
		}
		d += time.Duration(n) * unit
	}
	return d, nil
}

// FormatDelay writes a delay the way rules are shown: "3d", "2h", "90m", "1d2h".
func FormatDelay(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	var b strings.Builder
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.size
		}
	}
	return b.String()
}

// RuleInput is a rule as a client writes it; nil fields are left as they
// are on an update.
type RuleInput struct {
	Title       *string
	Message     *string
	Generate    *bool
	Delay       *string
	ReplyWindow *string
	Survey      *parley.SurveyType
	ChannelIDs  *[]string
	Template    **parley.Template
	Active      *bool

	// SendAsWritten opts out of the AI writing the follow-up.
	SendAsWritten *bool
}

// Apply copies the input over r and checks the result; errors name the field.
func (in RuleInput) Apply(ctx context.Context, q *store.Queries, r *parley.FollowUpRule) error {
	set(&r.Title, in.Title)
	set(&r.Message, in.Message)
	set(&r.Generate, in.Generate)
	set(&r.SendAsWritten, in.SendAsWritten)
	set(&r.Survey, in.Survey)
	set(&r.ChannelIDs, in.ChannelIDs)
	set(&r.Template, in.Template)
	set(&r.Active, in.Active)
	r.Title, r.Message = strings.TrimSpace(r.Title), strings.TrimSpace(r.Message)
	if r.Title == "" {
		return parley.FieldError("title", "is required")
	}
	if in.Delay != nil {
		d, err := ParseDelay(*in.Delay)
		if err != nil {
			return parley.FieldError("delay", "%v", err)
		}
		r.Delay = d
	}
	if r.Delay < MinDelay || r.Delay > MaxDelay {
		return parley.FieldError("delay", "must be between 1m and 90d")
	}
	if in.ReplyWindow != nil {
		d, err := ParseDelay(*in.ReplyWindow)
		if err != nil || d < MinDelay || d > MaxDelay {
			return parley.FieldError("reply_window", "must be a duration like 24h between 1m and 90d")
		}
		r.ReplyWindow = d
	}
	if r.ReplyWindow == 0 {
		r.ReplyWindow = DefaultReplyWindow
	}
	if r.Generate && r.SendAsWritten {
		return parley.FieldError("send_as_written", "cannot be true with generate: one lets the AI write, the other sends the message as written")
	}
	if !r.Generate && r.Message == "" {
		return parley.FieldError("message", "is required unless generate is true")
	}
	if !r.Survey.Valid() {
		return parley.FieldError("survey", "%q is not a survey type (csat, nps or yes_no)", r.Survey)
	}
	if r.Template != nil && strings.TrimSpace(r.Template.Name) == "" {
		return parley.FieldError("template.name", "is required")
	}
	seen := map[string]bool{}
	ids := make([]string, 0, len(r.ChannelIDs))
	for _, id := range r.ChannelIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := q.GetChannel(ctx, r.TenantID, id); err != nil {
			if parley.ErrorCode(err) == parley.CodeNotFound {
				return parley.FieldError("channel_ids", "%q is not one of your channels", id)
			}
			return err
		}
		ids = append(ids, id)
	}
	r.ChannelIDs = ids
	return nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// FeatureOffWarning is what the rule API and the dashboard say while the
// tenant's follow-ups feature is off (the default): rules can be written,
// but nothing is sent.
const FeatureOffWarning = `Follow-ups are switched off for this tenant: no rule sends anything (each due follow-up is logged as skipped with the reason followups_feature_off) until you switch them on with PATCH /api/tenant {"features": {"followups": true}} or in the dashboard's Settings.`

// ModuleOffWarning is what they say while the feature is on but the tenant
// lacks the APPOINTMENTS module, which the business rules also require.
const ModuleOffWarning = `Follow-ups need the APPOINTMENTS module, which this tenant does not have: no rule sends anything (each due follow-up is logged as skipped with the reason appointments_module_off) until you add it with PATCH /api/tenant {"modules": ["APPOINTMENTS"]} or in the dashboard's Settings.`

// Enabled reports whether the tenant's follow-ups can be sent at all: the
// feature is on and the tenant has the APPOINTMENTS module.
func Enabled(t parley.Tenant) bool { return Warning(t) == "" }

// Warning says why no rule of the tenant sends anything, or "".
func Warning(t parley.Tenant) string {
	switch {
	case !t.Features[parley.FeatureFollowUps]:
		return FeatureOffWarning
	case !slices.Contains(t.Modules, parley.ModuleAppointments):
		return ModuleOffWarning
	}
	return ""
}
