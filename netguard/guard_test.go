package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/parleyhq/parley/netguard"
)

func TestCheck(t *testing.T) {
	g := netguard.New(nil, netguard.SMTPPorts)
	for _, tc := range []struct {
		addr, reason string // "" reason: allowed
	}{
		{"93.184.216.34:587", ""},
		{"[2606:2800:220:1:248:1893:25c8:1946]:25", ""},
		{"127.0.0.1:25", "loopback"},
		{"[::1]:25", "loopback"},
		{"[::ffff:127.0.0.1]:25", "loopback"},
		{"10.0.0.5:25", "private"},
		{"172.16.3.4:587", "private"},
		{"192.168.1.1:465", "private"},
		{"[fd12::1]:25", "private"},
		{"169.254.169.254:80", "metadata"},
		{"169.254.10.1:25", "link-local"},
		{"[fe80::1]:25", "link-local"},
		{"100.100.100.200:25", "metadata"},
		{"100.64.0.1:25", "carrier-grade"},
		{"0.0.0.0:25", "public unicast"},
		{"224.0.0.1:25", "public unicast"},
		{"[64:ff9b::a00:1]:25", "NAT64"},
		{"93.184.216.34:22", "port 22 is not allowed (allowed: 25, 465, 587, 2525)"},
		{"93.184.216.34:6379", "port 6379"},
	} {
		err := g.Check(netip.MustParseAddrPort(tc.addr))
		var refused *netguard.RefusedError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s refused: %v", tc.addr, err)
		case tc.reason != "" && (!errors.As(err, &refused) || !strings.Contains(refused.Reason, tc.reason)):
			t.Errorf("%s: %v, want a refusal about %q", tc.addr, err, tc.reason)
		}
	}
}

// The operator's ranges open any port; the rest stays closed.
func TestAllowList(t *testing.T) {
	allow, err := netguard.ParseAllow(" 127.0.0.0/8, 10.1.2.3 ,")
	if err != nil {
		t.Fatal(err)
	}
	g := netguard.New(allow, netguard.SMTPPorts)
	for addr, ok := range map[string]bool{"127.0.0.1:2525": true, "127.9.9.9:6379": true, "10.1.2.3:25": true, "10.1.2.4:25": false, "[::1]:25": false} {
		if err := g.Check(netip.MustParseAddrPort(addr)); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", addr, err, ok)
		}
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "10.0.0/8"} {
		if _, err := netguard.ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
		}
	}
}

// The check happens when connecting, after DNS: a name that resolves to
// loopback is refused before any byte is sent, and the listener sees no
// connection.
func TestDialRefusesAfterDNS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, err = netguard.New(nil, []int{25}).DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	var refused *netguard.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "loopback") {
		t.Fatalf("dial localhost: %v", err)
	}
	allow, _ := netguard.ParseAllow("127.0.0.0/8")
	c, err := netguard.New(allow, nil).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()
	<-accepted
	select {
	case <-accepted:
		t.Fatal("the refused dial reached the listener")
	default:
	}
}
