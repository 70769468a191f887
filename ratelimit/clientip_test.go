package ratelimit

import (
	"net/http"
	"testing"
)

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	trusted, err := ParseProxies(" 10.0.0.0/8, 192.0.2.1 ,::1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p         Proxies
		peer, xff string
		want      string
	}{
		{nil, "10.1.2.3:5000", "203.0.113.5", "10.1.2.3"},
		{trusted, "198.51.100.1:5000", "203.0.113.5", "198.51.100.1"},
		{trusted, "10.1.2.3:5000", "", "10.1.2.3"},
		{trusted, "10.1.2.3:5000", "203.0.113.5", "203.0.113.5"},
		{trusted, "10.1.2.3:5000", "6.6.6.6, 203.0.113.5, 192.0.2.1", "203.0.113.5"},
		{trusted, "[::1]:5000", "garbage, 203.0.113.5", "203.0.113.5"},
		{trusted, "10.1.2.3:5000", "203.0.113.5, garbage", "10.1.2.3"},
		{trusted, "10.1.2.3:5000", "10.4.4.4", "10.4.4.4"},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := tc.p.ClientIP(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0.1/8/2"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q) accepted", bad)
		}
	}
}
