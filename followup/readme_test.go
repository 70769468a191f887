package followup_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The README's follow-up rule example, sent as curl sends it (its headers
// and body, the key and channel filled in), creates the rule.
func TestREADMEFollowUpExampleCreatesARule(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)curl -X POST http://localhost:8080/api/followup-rules(.*?)\n```").FindStringSubmatch(string(b))
	if block == nil {
		t.Fatal("the README has no follow-up rule example")
	}
	var headers [][2]string
	for _, h := range regexp.MustCompile(`-H "([^:"]+): ([^"]*)"`).FindAllStringSubmatch(block[1], -1) {
		headers = append(headers, [2]string{h[1], h[2]})
	}
	body := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(block[1])
	if body == nil {
		t.Fatal("the example has no body")
	}
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		req, err := http.NewRequest(http.MethodPost, e.p.URL()+"/api/followup-rules", strings.NewReader(strings.ReplaceAll(body[1], "…", e.channel.ID)))
		if err != nil {
			t.Fatal(err)
		}
		// curl -d sends a form unless told otherwise.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, h := range headers {
			req.Header.Set(h[0], strings.ReplaceAll(h[1], "$KEY", e.key))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("the README's example: %d, want 201 (headers %v)", res.StatusCode, headers)
		}
	})
}
