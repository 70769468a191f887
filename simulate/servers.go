package simulate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// server is one `parley serve` under test.
type server struct {
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
}

func startServer(ctx context.Context, binary, dir string, env []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Env, cmd.Dir = append(append([]string{}, env...), "PARLEY_ADDR="+addr), dir
	p := &server{cmd: cmd, base: "http://" + addr, log: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.log}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start parley: %w", err)
	}
	if err := waitHealthy(ctx, p.base, 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w; parley said:\n%s", err, p.log.String())
	}
	return p, nil
}

// stop asks the process to finish, and kills it after 30 s.
func (p *server) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
	}
}

// processSample is what a window's figures are differences of.
type processSample struct {
	cpu                 float64 // CPU seconds used so far
	statements, commits float64 // from its /metrics
}

func (p *server) sample(ctx context.Context) processSample {
	m, _ := scrape(ctx, p.base, "parley_sql_statements_total", "parley_sql_commits_total")
	return processSample{cpu: cpuSeconds(p.cmd.Process.Pid), statements: m["parley_sql_statements_total"], commits: m["parley_sql_commits_total"]}
}

// scrape reads the named metrics from base's /metrics, summing their series.
func scrape(ctx context.Context, base string, names ...string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if tok := os.Getenv("PARLEY_METRICS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, n := range names {
			if rest, ok := strings.CutPrefix(line, n); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				out[n] += v
			}
		}
	}
	return out, sc.Err()
}
