package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/parleyhq/parley/simulate"
)

// target is one row of the table.
type target struct {
	figure  string
	unit    string
	command string
	value   func(r *results, engine string) float64
	// goal per engine, and whether lower is better.
	goal  map[string]float64
	lower bool
	// atMost: the goal itself meets it (≤ rather than <).
	atMost bool
	// why explains a miss: what bounds it and what would be needed.
	why string
}

const (
	cmdInbound = "parley simulate --customers 500 --duration 20s [--database-url postgres://…]"
	cmdSteady  = "parley simulate --customers 500 --rate 80 --duration 20s [--database-url postgres://…]"
	cmdDue     = "PARLEY_BENCH_CONVERSATIONS=1000000 PARLEY_BENCH_DUE=100000 go test ./followup/ -run '^$' -bench DueFollowUps -benchtime 1x -timeout 60m"
	cmdLate    = "go test ./followup/ -run '^$' -bench FollowUpLateness -benchtime 1x"
	cmdReplica = "parley simulate --customers 500 --duration 20s --replicas 3 --database-url postgres://… beside the inbound run"
	cmdKill    = "go test -tags reliability -run TestRecoveryTime -v ./reliability/"
)

func targets() []target {
	sim := func(sc string, f func(*simulate.Report) float64) func(*results, string) float64 {
		return func(r *results, e string) float64 { return r.med(e, sc, f) }
	}
	return []target{
		{figure: "inbound messages answered per second, sustained", unit: "msg/s", command: cmdInbound,
			value: sim(inbound.name, func(r *simulate.Report) float64 { return r.AnsweredPerSecond }),
			goal:  map[string]float64{"sqlite": 500, "postgres": 1000},
			why: "Bounded by CPU: Parley's own CPU time per answered message (see the floors below) times the rate must fit in the two cores " +
				"it shares with the load generator, the fake Graph API and LLM, and on PostgreSQL the database server. Each message still " +
				"takes four transactions (webhook, conversation, answer, send record) of some fifteen statements each through database/sql, " +
				"and an LLM call through the OpenAI SDK. What would be needed: group commit (one transaction for many messages' steps), " +
				"fewer statements per step, and on PostgreSQL the pgx native driver (statement batches, one round trip per step); or more cores."},
		{figure: "Parley's CPU per answered message, at full load", unit: "ms", command: cmdInbound, lower: true, atMost: true,
			value: sim(inbound.name, func(r *simulate.Report) float64 { return r.CPUms }),
			goal:  map[string]float64{"sqlite": 1.5, "postgres": 1.5}},
		{figure: "SQL statements per answered message, at full load", unit: "", command: cmdInbound, lower: true, atMost: true,
			value: sim(inbound.name, func(r *simulate.Report) float64 { return r.StatementsPerAnswer }),
			goal:  map[string]float64{"sqlite": 12, "postgres": 12}},
		{figure: "commits per answered message, at full load", unit: "", command: cmdInbound, lower: true, atMost: true,
			value: sim(inbound.name, func(r *simulate.Report) float64 { return r.CommitsPerAnswer }),
			goal:  map[string]float64{"sqlite": 1, "postgres": 1}},
		{figure: "3 replicas vs 1 process on PostgreSQL, answered msg/s (same run)", unit: "×", command: cmdReplica, atMost: true,
			value: func(r *results, e string) float64 {
				one := r.med(e, inbound.name, func(r *simulate.Report) float64 { return r.AnsweredPerSecond })
				three := r.med(e, replicas.name, func(r *simulate.Report) float64 { return r.AnsweredPerSecond })
				if one == 0 {
					return 0
				}
				return three / one
			},
			goal: map[string]float64{"postgres": 1}},
		{figure: "webhook acknowledgement p99 at 80 msg/s offered", unit: "ms", command: cmdSteady, lower: true,
			value: sim(steady.name, func(r *simulate.Report) float64 { return r.Ack.P99 }),
			goal:  map[string]float64{"sqlite": 20, "postgres": 20}},
		{figure: "reply latency p50, Parley's own part (fake LLM answers at once), at 80 msg/s", unit: "ms", command: cmdSteady, lower: true,
			value: sim(steady.name, func(r *simulate.Report) float64 { return r.Reply.P50 }),
			goal:  map[string]float64{"sqlite": 50, "postgres": 50}},
		{figure: "reply latency p99, Parley's own part, at 80 msg/s", unit: "ms", command: cmdSteady, lower: true,
			value: sim(steady.name, func(r *simulate.Report) float64 { return r.Reply.P99 }),
			goal:  map[string]float64{"sqlite": 250, "postgres": 250}},
		{figure: "100,000 follow-ups due in one minute among 1,000,000 conversations: all sent within", unit: "s", command: cmdDue, lower: true,
			value: func(r *results, e string) float64 { return r.fu(e, "DueFollowUps send_all_s") },
			goal:  map[string]float64{"sqlite": 120, "postgres": 60},
			why: "Each follow-up is a Follow-Up Request job (fetched and completed by River), a decision transaction that queues the message " +
				"and an HTTP send with its record transaction. On PostgreSQL every commit waits for a WAL flush (see the single-row commit " +
				"floor) and every statement is a round trip. What would be needed: deciding a batch of due conversations in one transaction " +
				"(claim many, one InsertMany for their sends), recording sends in batches, and the pgx native driver."},
		{figure: "follow-up lateness p99 at ordinary load (50 due per second)", unit: "ms", command: cmdLate, lower: true,
			value: func(r *results, e string) float64 { return r.fu(e, "FollowUpLateness late_p99_ms") },
			goal:  map[string]float64{"sqlite": 5000, "postgres": 5000}},
		{figure: "a message caught by a kill -9 answered after the restart (healthy) within", unit: "s", command: cmdKill, lower: true, atMost: true,
			value: func(r *results, e string) float64 { return r.recoveryS[e] },
			goal:  map[string]float64{"sqlite": 15, "postgres": 15}},
		{figure: "peak RSS during the inbound run", unit: "MB", command: cmdInbound, lower: true,
			value: sim(inbound.name, func(r *simulate.Report) float64 { return r.PeakRSSMB }),
			goal:  map[string]float64{"sqlite": 300, "postgres": 300}},
	}
}

func met(t target, v float64, engine string) bool {
	if v == 0 {
		return false
	}
	if t.lower && t.atMost {
		return v <= t.goal[engine]
	}
	if t.lower {
		return v < t.goal[engine]
	}
	return v >= t.goal[engine]
}

func write(w io.Writer, r *results, runs, conversations, due int, engines []string) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Regenerate with `go run ./scripts/benchmarks --out BENCHMARKS.md` (about %s here; see README, Performance).\n", time.Since(r.started).Round(time.Minute))
	fmt.Fprintf(w, "Generated %s on %s: %d CPUs (%s), %s, %s. Every figure is the median of %d runs; every run measured its floor beside it.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), cpuModel(), runtime.Version(), load(), runs)
	fmt.Fprintf(w, "The floors measured in the same runs, and the ratios to them, say how much of the machine the runs had: compare ratios, not raw figures, across machines.\n\n")

	fmt.Fprintf(w, "## The targets\n\n| figure | %s | command |\n|---|%s---|\n", headers(engines), strings.Repeat("---|", 2*len(engines)))
	var misses []string
	fullScale := conversations == 1_000_000 && due == 100_000
	for _, t := range targets() {
		fmt.Fprintf(w, "| %s |", t.figure)
		for _, e := range engines {
			if _, ok := t.goal[e]; !ok {
				fmt.Fprintf(w, " – | – |")
				continue
			}
			v := t.value(r, e)
			mark := "✅"
			if t.command == cmdKill && !r.recovery {
				mark = "(not run)"
			} else if t.command == cmdDue && !fullScale {
				mark = "(not judged at this scale)"
			} else if !met(t, v, e) {
				mark = "❌"
				if t.why != "" {
					misses = append(misses, fmt.Sprintf("- **%s, %s**: %s against %s %s. %s", t.figure, e, withUnit(v, t.unit), cmp(t), num(t.goal[e]), t.why))
				} else {
					misses = append(misses, fmt.Sprintf("- **%s, %s**: %s against %s %s.", t.figure, e, withUnit(v, t.unit), cmp(t), num(t.goal[e])))
				}
			}
			fmt.Fprintf(w, " %s %s | %s %s |", cmp(t), num(t.goal[e]), mark, withUnit(v, t.unit))
		}
		fmt.Fprintf(w, " `%s` |\n", t.command)
	}
	fmt.Fprintf(w, "\nThe follow-up scheduler ran with %d conversations, %d due; the last follow-up's lateness (time sent minus time due): %s.\n",
		conversations, due, perEngine(engines, func(e string) string { return num(r.fu(e, "DueFollowUps last_late_s")) + " s" }))
	if r.followupSource != "" {
		fmt.Fprintf(w, "\nThe follow-up scheduler's figures were read from the saved output of an earlier run of the same benchmarks on this machine (`--followup-output`); the simulations were measured by this run.\n")
	}
	if r.recoveryNote != "" {
		fmt.Fprintf(w, "\nThe kill -9 recovery check: %s.\n", r.recoveryNote)
	}
	if len(misses) > 0 {
		fmt.Fprintf(w, "\n### Not met\n\n%s\n", strings.Join(misses, "\n"))
	}

	fmt.Fprintf(w, "\n## Floors and ratios\n\nThe floor: single-row commits a second, no-op River jobs inserted one at a time and worked a second, loopback HTTP requests a second, on a scratch database beside the one under test.\n\n")
	fmt.Fprintf(w, "| run | engine | commits/s | no-op jobs/s | HTTP req/s | figure | ratio |\n|---|---|---|---|---|---|---|\n")
	for _, e := range engines {
		fl := func(f func(*simulate.Report) float64) string {
			return num(r.med(e, inbound.name, func(rep *simulate.Report) float64 {
				if rep.Floor == nil {
					return 0
				}
				return f(rep)
			}))
		}
		fmt.Fprintf(w, "| inbound | %s | %s | %s | %s | answered per no-op job / per commit; acknowledged per HTTP request | %s / %s; %s |\n", e,
			fl(func(rep *simulate.Report) float64 { return rep.Floor.CommitsPerSecond }),
			fl(func(rep *simulate.Report) float64 { return rep.Floor.NoopJobsPerSecond }),
			fl(func(rep *simulate.Report) float64 { return rep.Floor.HTTPPerSecond }),
			fl(func(rep *simulate.Report) float64 { return rep.Ratios.AnsweredPerNoopJob }),
			fl(func(rep *simulate.Report) float64 { return rep.Ratios.AnsweredPerCommit }),
			fl(func(rep *simulate.Report) float64 { return rep.Ratios.AcknowledgedPerHTTP }))
		fmt.Fprintf(w, "| follow-ups | %s | %s | %s | – | follow-ups sent per no-op job | %s |\n", e,
			num(r.fu(e, "DueFollowUps floor_commits/s")), num(r.fu(e, "DueFollowUps floor_noop_jobs/s")), num(r.fu(e, "DueFollowUps followups_per_noop_job")))
	}
	fmt.Fprintf(w, "\nParley's CPU time per answered message (user + system, from /proc), a figure other load hardly moves: %s.\n",
		perEngine(engines, func(e string) string {
			return num(r.med(e, inbound.name, func(rep *simulate.Report) float64 { return rep.CPUms })) + " ms"
		}))

	fmt.Fprintf(w, "\n## Every run\n\n| engine | scenario | answered/s | ack p50 / p99 ms | reply p50 / p99 ms | peak RSS MB | CPU ms/msg | SQL statements / commits per msg | floor commits/s, no-op jobs/s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range engines {
		for _, sc := range []string{inbound.name, steady.name, replicas.name} {
			for _, rep := range r.sim[e][sc] {
				floor := "–"
				if rep.Floor != nil {
					floor = num(rep.Floor.CommitsPerSecond) + ", " + num(rep.Floor.NoopJobsPerSecond)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s / %s | %s / %s | %s | %s | %s / %s | %s |\n", e, sc, num(rep.AnsweredPerSecond), num(rep.Ack.P50), num(rep.Ack.P99),
					num(rep.Reply.P50), num(rep.Reply.P99), num(rep.PeakRSSMB), num(rep.CPUms), num(rep.StatementsPerAnswer), num(rep.CommitsPerAnswer), floor)
			}
		}
		for _, key := range []string{"DueFollowUps send_all_s", "DueFollowUps followups/s", "DueFollowUps last_late_s", "FollowUpLateness late_p50_ms", "FollowUpLateness late_p99_ms"} {
			var vs []string
			for _, v := range r.followup[e][key] {
				vs = append(vs, num(v))
			}
			fmt.Fprintf(w, "| %s | %s | %s ||||||| \n", e, key, strings.Join(vs, ", "))
		}
	}
}

func headers(engines []string) string {
	var h []string
	for _, e := range engines {
		h = append(h, e+" target", e)
	}
	return strings.Join(h, " | ")
}

func perEngine(engines []string, f func(string) string) string {
	var parts []string
	for _, e := range engines {
		parts = append(parts, e+" "+f(e))
	}
	return strings.Join(parts, ", ")
}

func cmp(t target) string {
	if t.atMost && t.lower {
		return "≤"
	}
	if t.lower {
		return "<"
	}
	return "≥"
}

// withUnit writes a figure and its unit, if it has one.
func withUnit(v float64, unit string) string {
	if unit == "" {
		return num(v)
	}
	return num(v) + " " + unit
}

func num(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load unknown"
	}
	return "load average at the end " + strings.Join(f[:3], " ")
}
