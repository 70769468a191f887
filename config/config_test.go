package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsStartOnSQLite(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "parley.db" || c.WhatsAppGraphURL != "https://graph.facebook.com" || c.LLMConfigured() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	c, err := Load([]string{"--addr", "127.0.0.1:9000"}, env(map[string]string{"PARLEY_ADDR": ":7000", "PARLEY_JOB_TIMEOUT": "2s", "PARLEY_JOB_RESCUE_AFTER": "3s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.JobTimeout != 2*time.Second {
		t.Fatalf("config = %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"PARLEY_ADDR": "nonsense"}, want: "PARLEY_ADDR"},
		{env: map[string]string{"PARLEY_DATABASE_URL": "mysql://x"}, want: "PARLEY_DATABASE_URL"},
		{env: map[string]string{"PARLEY_LOG_LEVEL": "loud"}, want: "PARLEY_LOG_LEVEL"},
		{env: map[string]string{"PARLEY_LLM_BASE_URL": "ftp://x"}, want: "PARLEY_LLM_BASE_URL"},
		{env: map[string]string{"PARLEY_WHATSAPP_GRAPH_URL": "not a url"}, want: "PARLEY_WHATSAPP_GRAPH_URL"},
		{env: map[string]string{"PARLEY_WHATSAPP_RATE_LIMIT": "0"}, want: "PARLEY_WHATSAPP_RATE_LIMIT"},
		{env: map[string]string{"PARLEY_JOB_TIMEOUT": "-1s"}, want: "PARLEY_JOB_TIMEOUT"},
		{env: map[string]string{"PARLEY_JOB_TIMEOUT": "10m"}, want: "PARLEY_JOB_RESCUE_AFTER"},
		{env: map[string]string{"PARLEY_PPROF_ADDR": ":6060"}, want: "PARLEY_PPROF_ADDR"},
		{env: map[string]string{"PARLEY_PPROF_ADDR": "10.0.0.5:6060"}, want: "PARLEY_PPROF_ADDR"},
		{env: map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, want: "PARLEY_TRUSTED_PROXIES"},
		{args: []string{"--trusted-proxies", "10.0.0.0/40"}, want: "--trusted-proxies"},
		{env: map[string]string{"PARLEY_OUTBOUND_ALLOW": "127.0.0.0/8,localhost"}, want: "PARLEY_OUTBOUND_ALLOW"},
		{args: []string{"--addr", "x"}, want: "--addr"},
		{args: []string{"--nope"}, want: "flags"},
	}
	for _, tc := range cases {
		_, err := Load(tc.args, env(tc.env), io.Discard)
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.want || strings.Contains(err.Error(), "\n") {
			t.Errorf("env %v args %v: err = %v, want a one-line error naming %s", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestProxiesAndMetricsTokenAndLoopbackProfiler(t *testing.T) {
	c, err := Load([]string{"--pprof-addr", "[::1]:6060"}, env(map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1", "PARLEY_METRICS_TOKEN": "s3cret"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" || c.MetricsToken != "s3cret" || c.PprofAddr != "[::1]:6060" {
		t.Fatalf("config = %+v", c)
	}
	for _, ok := range []string{"127.0.0.1:6060", "localhost:6060", "127.0.0.2:0"} {
		if _, err := Load([]string{"--pprof-addr", ok}, env(nil), io.Discard); err != nil {
			t.Errorf("loopback %s refused: %v", ok, err)
		}
	}
}

func TestOutboundAllowList(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"PARLEY_OUTBOUND_ALLOW": "127.0.0.0/8, 10.2.0.0/16"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OutboundAllow) != 2 || c.OutboundAllow[0].String() != "127.0.0.0/8" || c.OutboundAllow[1].String() != "10.2.0.0/16" {
		t.Fatalf("allow = %v", c.OutboundAllow)
	}
	if c, _ := Load(nil, env(nil), io.Discard); len(c.OutboundAllow) != 0 {
		t.Fatalf("default allow = %v, want none", c.OutboundAllow)
	}
}
