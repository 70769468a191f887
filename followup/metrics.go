package followup

import "github.com/prometheus/client_golang/prometheus"

// Metrics count follow-up decisions and what customers did with them.
type Metrics struct {
	sent    *prometheus.CounterVec
	skipped *prometheus.CounterVec
	delayed prometheus.Counter
	replied prometheus.Counter
	answers *prometheus.CounterVec
	queued  *prometheus.CounterVec
}

// NewMetrics registers the follow-up counters on reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_followups_sent_total",
			Help: "Follow-ups sent, by kind (text, generated, template) and survey."}, []string{"kind", "survey"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_followups_skipped_total",
			Help: "Follow-ups skipped, by reason."}, []string{"reason"}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_followups_delayed_total",
			Help: "Follow-ups due outside availability hours and moved to the next opening."}),
		replied: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_followups_replied_total",
			Help: "Sent follow-ups the customer answered within the rule's reply window."}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_followup_survey_answers_total",
			Help: "Survey answers, by survey type and answer."}, []string{"survey", "answer"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_followup_queue_messages_total",
			Help: "Follow-Up Requests read from an outside queue, by source and outcome (accepted, duplicate, unknown_conversation, malformed)."}, []string{"source", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.skipped, m.delayed, m.replied, m.answers, m.queued)
	}
	return m
}

func (m *Metrics) countSent(kind, survey string) {
	if m != nil {
		m.sent.WithLabelValues(kind, survey).Inc()
	}
}

func (m *Metrics) countSkipped(reason string) {
	if m != nil {
		m.skipped.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) countDelayed() {
	if m != nil {
		m.delayed.Inc()
	}
}

func (m *Metrics) countReplied(n int64) {
	if m != nil && n > 0 {
		m.replied.Add(float64(n))
	}
}

func (m *Metrics) countAnswer(survey, answer string) {
	if m != nil {
		m.answers.WithLabelValues(survey, answer).Inc()
	}
}

func (m *Metrics) countQueued(source, outcome string) {
	if m != nil {
		m.queued.WithLabelValues(source, outcome).Inc()
	}
}
