package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func runUser(t *testing.T, dir, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runParley(t, dir, stdin, env, append([]string{"user", "create"}, args...)...)
}

// TestUserCreateThenSignIn: the first user made on the command line signs
// in to the dashboard of a served Parley.
func TestUserCreateThenSignIn(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PARLEY_DATABASE_URL=" + filepath.Join(dir, "p.db"), "PARLEY_LLM_BASE_URL="}
	tenantID, _ := runTenantCreate(t, dir, env...)

	code, out, errOut := runUser(t, dir, "a long passphrase\n", env, "--tenant", tenantID, "--email", "Ana@Acme.test", "--name", "Ana", "--password-stdin")
	var created map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created["email"] != "ana@acme.test" || created["role"] != "admin" || created["password"] != "" {
		t.Fatalf("user create: exit %d, %s %s", code, out, errOut)
	}
	code, out, _ = runUser(t, dir, "", env, "--tenant", tenantID, "--email", "bo@acme.test", "--name", "Bo", "--role", "agent")
	var generated map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &generated) != nil || len(generated["password"]) != 20 {
		t.Fatalf("user create with a generated password: exit %d, %s", code, out)
	}

	bad := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no email", "", []string{"--tenant", tenantID, "--name", "X"}, "--email is required"},
		{"bad email", "", []string{"--tenant", tenantID, "--email", "x at y", "--name", "X"}, "--email:"},
		{"taken email", "", []string{"--tenant", tenantID, "--email", "ANA@acme.test", "--name", "X"}, "already exists"},
		{"unknown tenant", "", []string{"--tenant", "nope", "--email", "c@acme.test", "--name", "X"}, "--tenant:"},
		{"bad role", "", []string{"--tenant", tenantID, "--email", "c@acme.test", "--name", "X", "--role", "owner"}, "--role:"},
		{"short password", "short\n", []string{"--tenant", tenantID, "--email", "c@acme.test", "--name", "X", "--password-stdin"}, "--password-stdin:"},
		{"empty stdin", "", []string{"--tenant", tenantID, "--email", "c@acme.test", "--name", "X", "--password-stdin"}, "standard input is empty"},
	}
	for _, tc := range bad {
		code, _, errOut := runUser(t, dir, tc.stdin, env, tc.args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "parley: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line naming %q", tc.name, code, errOut, tc.want)
		}
	}

	s := startServer(t, dir, env...)
	s.waitHealthy(t, 10*time.Second)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(s.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in page without a form token: %s", body)
	}
	res, err = c.PostForm(s.url+"/signin", url.Values{"csrf_token": {string(m[1])}, "email": {"ana@acme.test"}, "password": {"a long passphrase"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign in as the CLI-made user: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}
