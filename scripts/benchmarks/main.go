// Command benchmarks regenerates BENCHMARKS.md: it runs every benchmark of
// the performance targets a few times on SQLite and on PostgreSQL, each
// run with the floor measured beside it, and writes the medians, the
// floors, the ratios and the command behind every figure.
//
//	go run ./scripts/benchmarks --out BENCHMARKS.md
//
// It takes about 50 minutes on a two-core machine (the follow-up
// scheduler's million conversations are most of it; the simulations about
// 8 minutes, the kill -9 recovery check about 1 minute once the message
// path recovers in seconds). For a smoke run of the script and the format:
//
//	go run ./scripts/benchmarks --out /tmp/b.md --runs 1 --duration 3s --floor 0 \
//	    --followup-output scripts/benchmarks/testdata/followup-bench.txt PostgreSQL is the
//
// server of PARLEY_TEST_DATABASE_URL (default: the tests' local one); each
// run gets a database of its own, dropped afterwards.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/parleyhq/parley/simulate"
	"github.com/parleyhq/parley/store/storetest"
)

func main() {
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	runs := flag.Int("runs", 3, "runs of each benchmark; the report shows medians")
	conversations := flag.Int("conversations", 1_000_000, "stored conversations in the follow-up scheduler benchmark")
	due := flag.Int("due", 100_000, "follow-ups due in the same minute among them")
	engines := flag.String("engines", "sqlite,postgres", "engines to measure")
	saved := flag.String("followup-output", "", "read the follow-up benchmarks' `go test -bench` output from this file instead of running them")
	duration := flag.Duration("duration", 20*time.Second, "load time of each simulation")
	floor := flag.Duration("floor", 2*time.Second, "time per floor measurement in each simulation (0 skips)")
	recovery := flag.Bool("recovery", true, "run the reliability suite's kill -9 recovery check (go test -tags reliability -run TestRecoveryTime)")
	flag.Parse()
	r := &results{sim: map[string]map[string][]*simulate.Report{}, followup: map[string]map[string][]float64{}, started: time.Now()}
	// Saved output is checked before the simulations, not half an hour
	// into the run.
	if *saved != "" {
		if err := readSaved(r, *saved, strings.Split(*engines, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "benchmarks: --followup-output:", err)
			os.Exit(2)
		}
	}
	for _, sc := range []*scenario{&inbound, &steady, &replicas} {
		sc.args = append(sc.args, "--duration", duration.String(), "--floor", floor.String())
	}
	r.recovery = *recovery
	if err := run(r, *out, *runs, *conversations, *due, strings.Split(*engines, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(1)
	}
}

// readSaved takes the follow-up figures from saved `go test -bench`
// output. It fails when the file holds none for one of the engines.
func readSaved(r *results, path string, engines []string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	parseBench(f, r, engines)
	for _, e := range engines {
		if len(r.followup[e]) == 0 {
			return fmt.Errorf("%s holds no follow-up benchmark results for %s", path, e)
		}
	}
	r.followupSource = path
	return nil
}

// scenario is one `parley simulate` set-up.
type scenario struct {
	name string
	args []string
}

var (
	inbound = scenario{"inbound", []string{"--customers", "500"}}
	steady  = scenario{"80 msg/s", []string{"--customers", "500", "--rate", "80"}}
	// replicas runs beside inbound on PostgreSQL (the same run, one after
	// the other), for the replicas-to-one-process ratio.
	replicas = scenario{"3 replicas", []string{"--customers", "500", "--replicas", "3"}}
)

// results holds every run's figures by engine.
type results struct {
	sim      map[string]map[string][]*simulate.Report // engine → scenario → runs
	followup map[string]map[string][]float64          // engine → metric → runs
	started  time.Time
	// followupSource names the saved output the follow-up figures were
	// read from ("" when this run measured them).
	followupSource string
	// recovery: whether to run the kill -9 check; recoveryS its figure per
	// engine (seconds from the restart being healthy to the last caught
	// message answered; 0 when it did not finish), recoveryNote what failed.
	recovery     bool
	recoveryS    map[string]float64
	recoveryNote string
}

func run(r *results, out string, runs, conversations, due int, engines []string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "parley-benchmarks")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "parley")
	say("building parley")
	if err := command(ctx, os.Stderr, "go", "build", "-o", bin, "./cmd/parley"); err != nil {
		return err
	}
	for _, engine := range engines {
		r.sim[engine] = map[string][]*simulate.Report{}
		scs := []scenario{inbound, steady}
		if engine == "postgres" {
			scs = append(scs, replicas)
		}
		for _, sc := range scs {
			for i := range runs {
				say("%s: simulate %s, run %d of %d", engine, sc.name, i+1, runs)
				rep, err := simulateOnce(ctx, bin, dir, engine, sc)
				if err != nil {
					return fmt.Errorf("%s %s: %w", engine, sc.name, err)
				}
				r.sim[engine][sc.name] = append(r.sim[engine][sc.name], rep)
			}
		}
	}
	if r.recovery {
		say("kill -9 recovery check (reliability suite, TestRecoveryTime)")
		r.recoveryS, r.recoveryNote = recoveryCheck(ctx, bin, engines)
	}
	if r.followupSource == "" {
		say("follow-up scheduler: %d conversations, %d due, %d runs per engine", conversations, due, runs)
		if err := followUps(ctx, r, runs, conversations, due, engines); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	write(&b, r, runs, conversations, due, engines)
	return os.WriteFile(out, b.Bytes(), 0o644)
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", args...)
}

func command(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	return cmd.Run()
}

// simulateOnce runs `parley simulate` against a fresh database.
func simulateOnce(ctx context.Context, bin, dir, engine string, sc scenario) (*simulate.Report, error) {
	args := append([]string{"simulate", "--json", filepath.Join(dir, "report.json")}, sc.args...)
	if engine == "postgres" {
		dsn, drop, err := freshPostgres(ctx)
		if err != nil {
			return nil, err
		}
		defer drop()
		args = append(args, "--database-url", dsn)
	}
	if err := command(ctx, io.Discard, bin, args...); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, err
	}
	var rep simulate.Report
	return &rep, json.Unmarshal(b, &rep)
}

// freshPostgres creates an empty database on the tests' server.
func freshPostgres(ctx context.Context) (string, func(), error) {
	admin, err := sql.Open("pgx", storetest.PostgresURL())
	if err != nil {
		return "", nil, err
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "parley_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(storetest.PostgresURL())
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// `go test -bench` result lines: the name, then the iterations and value
// and unit pairs. The benchmark's own progress line (on stderr, which go
// test merges) may land between the name and the figures, which then
// start a line of their own.
var (
	benchName   = regexp.MustCompile(`^Benchmark(\w+)/(\w+)-\d+\s+(.*)$`)
	benchValues = regexp.MustCompile(`^\s*\d+\s+[0-9.e+-]+ ns/op\s*(.*)$`)
	pairRE      = regexp.MustCompile(`([0-9.e+-]+) (\S+)`)
)

// followUps runs the scheduler benchmarks and collects their metrics.
func followUps(ctx context.Context, r *results, runs, conversations, due int, engines []string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "test", "./followup/", "-run", "^$", "-bench", "DueFollowUps|FollowUpLateness",
		"-benchtime", "1x", "-count", strconv.Itoa(runs), "-timeout", "180m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PARLEY_BENCH_CONVERSATIONS=%d", conversations), fmt.Sprintf("PARLEY_BENCH_DUE=%d", due))
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, os.Stderr), os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("follow-up benchmarks: %w", err)
	}
	parseBench(&out, r, engines)
	return nil
}

// parseBench adds the figures of `go test -bench` output to r.followup.
func parseBench(out io.Reader, r *results, engines []string) {
	want := map[string]bool{}
	for _, e := range engines {
		want[e] = true
	}
	var name, engine string // a result line whose figures have not come yet
	add := func(values string) {
		if r.followup[engine] == nil {
			r.followup[engine] = map[string][]float64{}
		}
		for _, p := range pairRE.FindAllStringSubmatch(values, -1) {
			if v, err := strconv.ParseFloat(p[1], 64); err == nil {
				key := name + " " + p[2]
				r.followup[engine][key] = append(r.followup[engine][key], v)
			}
		}
		name, engine = "", ""
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := benchName.FindStringSubmatch(line); m != nil {
			name, engine = "", ""
			if !want[m[2]] {
				continue
			}
			name, engine = m[1], m[2]
			if v := benchValues.FindStringSubmatch(m[3]); v != nil {
				add(v[1])
			}
			continue
		}
		if name != "" {
			if v := benchValues.FindStringSubmatch(line); v != nil {
				add(v[1])
			}
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// med is the median of one figure over a scenario's runs.
func (r *results) med(engine, sc string, f func(*simulate.Report) float64) float64 {
	var v []float64
	for _, rep := range r.sim[engine][sc] {
		v = append(v, f(rep))
	}
	return median(v)
}

func (r *results) fu(engine, key string) float64 { return median(r.followup[engine][key]) }

// recoveryLine is what TestRecoveryTime logs for each engine.
var recoveryLine = regexp.MustCompile(`reliability: recovery after kill -9 \((\w+)\): .* the last (\S+) after the restarted process was healthy`)

// recoveryCheck runs the reliability suite's recovery check with the built
// binary and reads the figure it logs, pass or fail.
func recoveryCheck(ctx context.Context, bin string, engines []string) (map[string]float64, string) {
	var out bytes.Buffer
	run := "TestRecoveryTime/(" + strings.Join(engines, "|") + ")$"
	cmd := exec.CommandContext(ctx, "go", "test", "-tags", "reliability", "-count=1", "-timeout", "15m", "-v", "-run", run, "./reliability/")
	cmd.Env = append(os.Environ(), "RELIABILITY_BINARY="+bin)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	got := parseRecovery(&out)
	note := ""
	if err != nil {
		note = "the check failed (" + err.Error() + "); see its log"
	}
	return got, note
}

func parseRecovery(out io.Reader) map[string]float64 {
	got := map[string]float64{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := recoveryLine.FindStringSubmatch(sc.Text()); m != nil {
			if d, err := time.ParseDuration(m[2]); err == nil {
				got[m[1]] = d.Seconds()
			}
		}
	}
	return got
}
