package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

const ruleCols = `id, tenant_id, title, message, generate, delay, reply_window, survey, channel_ids, template, active, created_at, updated_at, send_as_written`

func scanRule(row interface{ Scan(...any) error }) (parley.FollowUpRule, error) {
	var r parley.FollowUpRule
	var delay, window, created, updated int64
	var channels string
	var template sql.NullString
	if err := row.Scan(&r.ID, &r.TenantID, &r.Title, &r.Message, &r.Generate, &delay, &window, &r.Survey, &channels, &template, &r.Active, &created, &updated, &r.SendAsWritten); err != nil {
		return r, err
	}
	r.Delay, r.ReplyWindow = time.Duration(delay)*time.Microsecond, time.Duration(window)*time.Microsecond
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := decodeJSON(channels, &r.ChannelIDs); err != nil {
		return r, err
	}
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	if template.Valid {
		r.Template = &parley.Template{}
		if err := decodeJSON(template.String, r.Template); err != nil {
			return r, err
		}
	}
	return r, nil
}

func ruleArgs(r parley.FollowUpRule) []any {
	var template sql.NullString
	if r.Template != nil {
		template = sql.NullString{String: encodeJSON(r.Template), Valid: true}
	}
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	return []any{r.ID, r.TenantID, r.Title, r.Message, r.Generate, r.Delay.Microseconds(), r.ReplyWindow.Microseconds(), r.Survey,
		encodeJSON(r.ChannelIDs), template, r.Active, micros(r.CreatedAt), micros(r.UpdatedAt), r.SendAsWritten}
}

// CreateFollowUpRule stores a rule; ID and times are set here.
func (q *Queries) CreateFollowUpRule(ctx context.Context, r parley.FollowUpRule) (parley.FollowUpRule, error) {
	now := q.clock.Now()
	r.ID, r.CreatedAt, r.UpdatedAt = newID(), now, now
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO followup_rules (`+ruleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, ruleArgs(r)...); err != nil {
		return r, fmt.Errorf("create follow-up rule: %w", err)
	}
	return r, nil
}

// GetFollowUpRule returns one of the tenant's rules.
func (q *Queries) GetFollowUpRule(ctx context.Context, tenantID, id string) (parley.FollowUpRule, error) {
	r, err := scanRule(q.q.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return r, rowErr(err, "follow-up rule")
}

// ListFollowUpRules pages through the tenant's rules.
func (q *Queries) ListFollowUpRules(ctx context.Context, tenantID string, p Page) ([]parley.FollowUpRule, string, error) {
	return list(ctx, q, p, scanRule, func(r parley.FollowUpRule) string { return r.ID },
		`SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// ActiveFollowUpRules lists the tenant's active rules, shortest delay first.
func (q *Queries) ActiveFollowUpRules(ctx context.Context, tenantID string) ([]parley.FollowUpRule, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND active ORDER BY delay, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.FollowUpRule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateFollowUpRule saves a rule's changeable fields.
func (q *Queries) UpdateFollowUpRule(ctx context.Context, r parley.FollowUpRule) (parley.FollowUpRule, error) {
	r.UpdatedAt = q.clock.Now()
	a := ruleArgs(r)
	a = append(a[:11], a[12:]...) // every column but created_at
	res, err := q.q.ExecContext(ctx, `UPDATE followup_rules SET title = $3, message = $4, generate = $5, delay = $6, reply_window = $7, survey = $8,
		channel_ids = $9, template = $10, active = $11, updated_at = $12, send_as_written = $13 WHERE id = $1 AND tenant_id = $2`, a...)
	return r, affected(res, err, "follow-up rule")
}

// DeleteFollowUpRule removes a rule and its history.
func (q *Queries) DeleteFollowUpRule(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM followup_rules WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "follow-up rule")
}

// FollowUpRuleStats counts a rule's decisions, replies and survey answers.
func (q *Queries) FollowUpRuleStats(ctx context.Context, tenantID, ruleID string) (FollowUpStats, error) {
	st := FollowUpStats{Skipped: map[string]int64{}, Answers: map[string]int64{}}
	rows, err := q.q.QueryContext(ctx, `SELECT outcome, reason, COUNT(*), COUNT(replied_at) FROM followups
		WHERE tenant_id = $1 AND rule_id = $2 GROUP BY outcome, reason`, tenantID, ruleID)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var outcome, reason string
		var n, replied int64
		if err := rows.Scan(&outcome, &reason, &n, &replied); err != nil {
			rows.Close()
			return st, err
		}
		if outcome == parley.FollowUpSent {
			st.Sent += n
			st.Replied += replied
		} else {
			st.Skipped[reason] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = q.q.QueryContext(ctx, `SELECT answer, COUNT(*), SUM(score), COUNT(score) FROM followups
		WHERE tenant_id = $1 AND rule_id = $2 AND answer IS NOT NULL GROUP BY answer`, tenantID, ruleID)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	var sum, scored int64
	for rows.Next() {
		var answer string
		var n, scores int64
		var total sql.NullInt64
		if err := rows.Scan(&answer, &n, &total, &scores); err != nil {
			return st, err
		}
		st.Answers[answer] = n
		sum += total.Int64
		scored += scores
	}
	if st.Sent > 0 {
		st.ResponseRate = float64(st.Replied) / float64(st.Sent)
	}
	if scored > 0 {
		avg := float64(sum) / float64(scored)
		st.AverageScore = &avg
	}
	return st, rows.Err()
}

// RuleReach counts rule r's preview at now and the conversations it reached.
func (q *Queries) RuleReach(ctx context.Context, r parley.FollowUpRule, now time.Time) (FollowUpReach, error) {
	var out FollowUpReach
	args := []any{r.TenantID, r.ID, micros(now.Add(-r.Delay))}
	channels := ""
	if len(r.ChannelIDs) > 0 {
		marks := make([]string, len(r.ChannelIDs))
		for i, id := range r.ChannelIDs {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		channels = ` AND c.channel_id IN (` + strings.Join(marks, ", ") + `)`
	}
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations c
		WHERE `+silentWhere+` AND c.last_agent_message_at <= $3`+channels, args...).Scan(&out.WouldReachNow); err != nil {
		return out, fmt.Errorf("follow-up rule preview: %w", err)
	}
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(DISTINCT conversation_id) FROM followups WHERE rule_id = $1 AND outcome = 'sent' AND tenant_id = $2`,
		r.ID, r.TenantID).Scan(&out.Reached); err != nil {
		return out, fmt.Errorf("follow-up rule reach: %w", err)
	}
	return out, nil
}
