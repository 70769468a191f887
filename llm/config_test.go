package llm_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/llm"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    llm.Config
		enabled bool
		err     string
	}{
		{name: "nothing set is the no-LLM mode", env: map[string]string{}, want: llm.Config{}},
		{name: "ollama", enabled: true,
			env: map[string]string{
				"PARLEY_LLM_BASE_URL": "http://localhost:11434/v1", "PARLEY_LLM_API_KEY": "ollama",
				"PARLEY_LLM_MODEL": "llama3.1", "PARLEY_LLM_TIMEOUT": "90s", "PARLEY_LLM_MAX_ATTEMPTS": "5",
				"PARLEY_LLM_TEMPERATURE": "0.3", "PARLEY_LLM_MAX_TOKENS": "800", "PARLEY_LLM_MAX_TOKENS_FIELD": "max_tokens",
			},
			want: llm.Config{BaseURL: "http://localhost:11434/v1", APIKey: "ollama", Model: "llama3.1",
				Timeout: 90 * time.Second, MaxAttempts: 5, Temperature: 0.3, MaxTokens: 800, MaxTokensField: "max_tokens"}},
		{name: "bad timeout", env: map[string]string{"PARLEY_LLM_TIMEOUT": "30"}, err: "PARLEY_LLM_TIMEOUT"},
		{name: "bad attempts", env: map[string]string{"PARLEY_LLM_MAX_ATTEMPTS": "many"}, err: "PARLEY_LLM_MAX_ATTEMPTS"},
		{name: "bad temperature", env: map[string]string{"PARLEY_LLM_TEMPERATURE": "warm"}, err: "PARLEY_LLM_TEMPERATURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := llm.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.BaseURL != tc.want.BaseURL || got.APIKey != tc.want.APIKey || got.Model != tc.want.Model ||
				got.Timeout != tc.want.Timeout || got.MaxAttempts != tc.want.MaxAttempts || got.Temperature != tc.want.Temperature ||
				got.MaxTokens != tc.want.MaxTokens || got.MaxTokensField != tc.want.MaxTokensField {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if got.Enabled() != tc.enabled {
				t.Errorf("Enabled = %v, want %v", got.Enabled(), tc.enabled)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := llm.Config{Model: "m"}
	for _, tc := range []struct {
		name string
		edit func(*llm.Config)
		err  string // "" for valid
	}{
		{name: "defaults", edit: func(*llm.Config) {}},
		{name: "no model", edit: func(c *llm.Config) { c.Model = "" }, err: "model"},
		{name: "not a URL", edit: func(c *llm.Config) { c.BaseURL = "localhost:11434" }, err: "base URL"},
		{name: "negative attempts", edit: func(c *llm.Config) { c.MaxAttempts = -1 }, err: "attempts"},
		{name: "temperature", edit: func(c *llm.Config) { c.Temperature = 3 }, err: "temperature"},
		{name: "token field", edit: func(c *llm.Config) { c.MaxTokensField = "num_predict" }, err: "max tokens field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" && err != nil {
				t.Errorf("err = %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want one about %s", err, tc.err)
			}
			if _, nerr := llm.New(c); (nerr == nil) != (err == nil) {
				t.Errorf("New disagrees with Validate: %v vs %v", nerr, err)
			}
		})
	}
}

func TestConfigLogValueRedactsKey(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("llm configured", "llm", llm.Config{BaseURL: "https://api.openai.com/v1", APIKey: "sk-secret-123", Model: "gpt-4o-mini"})
	if strings.Contains(buf.String(), "sk-secret-123") {
		t.Fatalf("API key in log line: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "gpt-4o-mini") || !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("log line lacks model or redaction marker: %s", buf.String())
	}
}

func TestExponentialBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 4: 4 * time.Second, 5: 8 * time.Second, 40: 8 * time.Second} {
		for range 20 {
			if got := llm.ExponentialBackoff(attempt); got > want || got < want*3/4 {
				t.Fatalf("ExponentialBackoff(%d) = %v, want within [%v, %v]", attempt, got, want*3/4, want)
			}
		}
	}
}
