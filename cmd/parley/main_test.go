package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

var binary string

// TestMain builds the real binary once: these tests run it as a newcomer
// would, as a separate process.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "parley")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build parley: %v\n%s", err, out)
		os.Exit(1)
	}
	// The kill tests mostly wait on processes, so four run at once
	// rather than go test's default of GOMAXPROCS.
	storetest.AtLeastParallel(4)
	code := storetest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestCLIErrorsAreOneLineWithExitCode2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"launch"}, nil, "unknown command"},
		{"bad address", []string{"serve"}, map[string]string{"PARLEY_ADDR": "nowhere"}, "PARLEY_ADDR"},
		{"bad database scheme", []string{"serve"}, map[string]string{"PARLEY_DATABASE_URL": "mysql://db/x"}, "PARLEY_DATABASE_URL"},
		{"bad log level", []string{"serve"}, map[string]string{"PARLEY_LOG_LEVEL": "chatty"}, "PARLEY_LOG_LEVEL"},
		{"bad llm url", []string{"serve"}, map[string]string{"PARLEY_LLM_BASE_URL": "localhost:11434"}, "PARLEY_LLM_BASE_URL"},
		{"bad flag value", []string{"serve", "--job-timeout", "soon"}, nil, "--job-timeout"},
		// The profiler shows internals: loopback only. (An unreachable database
		// keeps a wrongly accepted address from serving forever here.)
		{"pprof on every interface", []string{"serve"}, map[string]string{"PARLEY_PPROF_ADDR": ":0", "PARLEY_DATABASE_URL": "postgres://127.0.0.1:1/none"}, "PARLEY_PPROF_ADDR"},
		{"pprof on 0.0.0.0", []string{"serve"}, map[string]string{"PARLEY_PPROF_ADDR": "0.0.0.0:0", "PARLEY_DATABASE_URL": "postgres://127.0.0.1:1/none"}, "PARLEY_PPROF_ADDR"},
		{"pprof on [::]", []string{"serve", "--pprof-addr", "[::]:0", "--database-url", "postgres://127.0.0.1:1/none"}, nil, "--pprof-addr"},
		{"pprof on a public name", []string{"serve"}, map[string]string{"PARLEY_PPROF_ADDR": "example.com:6060", "PARLEY_DATABASE_URL": "postgres://127.0.0.1:1/none"}, "PARLEY_PPROF_ADDR"},
		{"tenant without name", []string{"tenant", "create", "--database-url", filepath.Join(t.TempDir(), "p.db")}, nil, "--name is required"},
		{"tenant bad zone", []string{"tenant", "create", "--name", "A", "--time-zone", "Nowhere/Land", "--database-url", filepath.Join(t.TempDir(), "p.db")}, nil, "--time-zone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if code != 2 || !strings.HasPrefix(last, "parley: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and a line naming %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"version"}, func(string) string { return "" }, &stdout, &stdout); code != 0 || !strings.HasPrefix(stdout.String(), "parley ") {
		t.Fatalf("version: %d %q", code, stdout.String())
	}
}

// server is a `parley serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, dir string, env ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PARLEY_ADDR="+addr), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, stderr: &stderr}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

// waitHealthy polls /healthz until it answers 200 or the deadline passes.
func (s *server) waitHealthy(t *testing.T, deadline time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < deadline {
		if res, err := http.Get(s.url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("/healthz did not answer 200 within %s; server log:\n%s", deadline, s.stderr.String())
	return 0
}

func runTenantCreate(t *testing.T, dir string, env ...string) (tenantID, key string) {
	t.Helper()
	cmd := exec.Command(binary, "tenant", "create", "--name", "Acme")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tenant create: %v %s", err, out)
	}
	var res struct {
		TenantID string `json:"tenant_id"`
		APIKey   string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.TenantID == "" || !strings.HasPrefix(res.APIKey, "pk_") {
		t.Fatalf("tenant create printed %q (%v)", out, err)
	}
	return res.TenantID, res.APIKey
}

func apiGet(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// TestFreshStart is the README's promise: `parley serve` with no
// configuration starts on a SQLite file in the working directory, answers
// /healthz within 5 seconds, and `parley tenant create` works against it.
func TestFreshStart(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PARLEY_DATABASE_URL=", "PARLEY_LLM_BASE_URL="}
	s := startServer(t, dir, env...)
	took := s.waitHealthy(t, 5*time.Second)
	t.Logf("healthy after %s", took)
	if _, err := os.Stat(filepath.Join(dir, "parley.db")); err != nil {
		t.Fatalf("no parley.db in the working directory: %v", err)
	}
	tenantID, key := runTenantCreate(t, dir, env...)
	code, body := apiGet(t, s.url+"/api/tenant", key)
	if code != 200 || body["id"] != tenantID || body["name"] != "Acme" {
		t.Fatalf("GET /api/tenant = %d %v", code, body)
	}
	// SIGTERM stops it cleanly.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM; log:\n%s", err, s.stderr.String())
	}
}

func TestMigrateOnBothEngines(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		dsn := storetest.EmptyDSN(t, e)
		for i := 0; i < 2; i++ {
			cmd := exec.Command(binary, "migrate", "--database-url", dsn)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "up to date") {
				t.Fatalf("migrate: %v %s", err, out)
			}
		}
	})
}

// createChannel posts a channel with the tenant's key and returns its id.
func createChannel(t *testing.T, base, key, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/channels", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ch struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&ch); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create channel = %d (%v)", res.StatusCode, err)
	}
	return ch.ID
}

// runParley runs the binary in dir with env added and stdin, and returns
// its exit code and output; only a failure to start it fails t.
func runParley(t *testing.T, dir, stdin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}
