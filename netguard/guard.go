// Package netguard keeps Parley's outbound connections to addresses a
// tenant supplied (a site's SMTP server) away from the operator's own
// network: loopback, private, link-local and cloud-metadata ranges and
// unexpected ports are refused unless the operator allows a range
// (PARLEY_OUTBOUND_ALLOW). The check runs at connect time, on the address
// DNS returned, so a name that resolves to 127.0.0.1 (or re-resolves to it
// later) is refused as surely as the literal.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SMTPPorts are the ports a tenant's SMTP server may listen on: SMTP (25),
// submission over implicit TLS (465), submission (587), and 2525, the
// alternative submission port many mail services offer where 587 is blocked.
var SMTPPorts = []int{25, 465, 587, 2525}

// WebPorts are the ports a tenant's webhook endpoint may listen on.
var WebPorts = []int{80, 443, 8080, 8443}

// Guard decides which addresses may be dialed. The zero value is not
// usable; a nil *Guard refuses like New(nil, nil) would (no port allowed).
type Guard struct {
	allow []netip.Prefix
	ports []int
}

// New allows public addresses on ports, and any port of the allow ranges.
func New(allow []netip.Prefix, ports []int) *Guard {
	return &Guard{allow: slices.Clone(allow), ports: slices.Clone(ports)}
}

// RefusedError is a connection the guard stopped before it was made.
// Reason says why in words a tenant may read: it names the kind of
// address, never what a remote server said.
type RefusedError struct {
	Addr   netip.AddrPort
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("outbound connection to %s refused: %s", e.Addr, e.Reason)
}

// blocked are ranges netip has no predicate for; the reason is what a
// tenant is told.
var blocked = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a reserved address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a reserved address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a reserved address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	// These carry an IPv4 address inside IPv6 and can reach private IPv4.
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a reserved address"},
}

// metadata are the cloud providers' instance-metadata endpoints, named
// apart for a clearer refusal (their ranges are refused anyway).
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("169.254.170.2"),
	netip.MustParseAddr("100.100.100.200"), netip.MustParseAddr("fd00:ec2::254"),
}

// Check says whether ap may be dialed: nil, or a *RefusedError.
func (g *Guard) Check(ap netip.AddrPort) error {
	addr := ap.Addr().Unmap()
	refuse := func(reason string) error {
		return &RefusedError{Addr: netip.AddrPortFrom(addr, ap.Port()), Reason: reason}
	}
	if g != nil {
		for _, p := range g.allow {
			if p.Contains(addr) {
				return nil // the operator's call: any port
			}
		}
	}
	switch {
	case slices.Contains(metadata, addr):
		return refuse("a cloud metadata address")
	case addr.IsLoopback():
		return refuse("a loopback address")
	case addr.IsPrivate():
		return refuse("a private address")
	case addr.IsLinkLocalUnicast():
		return refuse("a link-local address")
	case !addr.IsGlobalUnicast():
		return refuse("not a public unicast address")
	}
	for _, b := range blocked {
		if b.p.Contains(addr) {
			return refuse(b.reason)
		}
	}
	if g == nil || !slices.Contains(g.ports, int(ap.Port())) {
		return refuse(fmt.Sprintf("port %d is not allowed (allowed: %s)", ap.Port(), g.portList()))
	}
	return nil
}

func (g *Guard) portList() string {
	if g == nil || len(g.ports) == 0 {
		return "none"
	}
	s := make([]string, len(g.ports))
	for i, p := range g.ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// Control is a net.Dialer Control function: it runs for each address the
// dialer tries, after DNS, before the connection is made.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound connection to %q refused: not an IP address and port", address)
	}
	return g.Check(ap)
}

// Dialer is a net.Dialer that asks the guard before each connection.
func (g *Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: g.Control}
}

// DialContext dials through the guard (a net.Dialer.DialContext).
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return g.Dialer(0).DialContext(ctx, network, address)
}

// ParseAllow reads PARLEY_OUTBOUND_ALLOW: comma-separated CIDR ranges
// ("127.0.0.0/8, 10.1.0.0/16"); a bare address means that one address.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR range or an IP address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR range (like 127.0.0.0/8)", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
