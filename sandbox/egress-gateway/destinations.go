package main

// Which destinations the gateway forwards to: public unicast addresses on the allowed ports.
// Everything internal is refused whatever a vault asks: private and unique-local ranges,
// loopback, link-local (the EC2 and ECS metadata endpoints live there), carrier-grade NAT,
// reserved and multicast ranges, IPv4 hidden in NAT64 or 6to4 addresses, plus the
// deployment's EGRESS_GATEWAY_DENY_CIDRS. IPv4-mapped IPv6 is judged as the IPv4 it is.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

var (
	metadataAddresses = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // EC2 instance metadata (IMDS)
		netip.MustParseAddr("169.254.170.2"),   // ECS task metadata and credentials
		netip.MustParseAddr("fd00:ec2::254"),   // EC2 IMDS over IPv6
	}
	reservedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network": reaches the local host
		netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
		netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
		netip.MustParsePrefix("2001:db8::/32"),  // documentation
	}
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

type destinationRules struct {
	deny []netip.Prefix
	// allow exempts these ranges from the built-in refusal of internal addresses (a deliberate
	// internal destination, the tests' loopback servers); never metadata or link-local.
	allow []netip.Prefix
	ports map[int]bool
}

func parsePrefixes(key, list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			addr, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an IP address or CIDR block", key, item)
			}
			prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an IP address or CIDR block", key, item)
		}
		prefixes = append(prefixes, prefix.Masked())
	}
	return prefixes, nil
}

func parsePorts(list string) (map[int]bool, error) {
	ports := map[int]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		port, err := strconv.Atoi(item)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("EGRESS_GATEWAY_ALLOWED_PORTS: %q is not a TCP port", item)
		}
		ports[port] = true
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("EGRESS_GATEWAY_ALLOWED_PORTS: lists no port (e.g. 443,80)")
	}
	return ports, nil
}

func containedIn(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, prefix := range prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// embeddedIPv4 is the IPv4 address a NAT64 or 6to4 address leads to, if any.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	bytes := addr.As16()
	switch {
	case nat64.Contains(addr):
		return netip.AddrFrom4([4]byte{bytes[12], bytes[13], bytes[14], bytes[15]}), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte{bytes[2], bytes[3], bytes[4], bytes[5]}), true
	}
	return netip.Addr{}, false
}

// internal says why an address is never a destination ("" when it may be one).
func internal(addr netip.Addr) string {
	switch {
	case !addr.IsValid():
		return "not an address"
	case containsAddr(metadataAddresses, addr):
		return "a cloud metadata address"
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		return "link-local"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsPrivate():
		return "private"
	case addr.IsMulticast() || addr.IsInterfaceLocalMulticast():
		return "multicast"
	case containedIn(reservedPrefixes, addr):
		return "reserved or carrier-grade NAT"
	}
	if v4, ok := embeddedIPv4(addr); ok {
		if why := internal(v4); why != "" {
			return why + " (behind NAT64 or 6to4)"
		}
	}
	return ""
}

func containsAddr(list []netip.Addr, addr netip.Addr) bool {
	for _, item := range list {
		if item == addr {
			return true
		}
	}
	return false
}

// check says why a destination is refused ("" when it is allowed).
func (rules *destinationRules) check(destination netip.AddrPort) string {
	addr := destination.Addr().Unmap()
	if !rules.ports[int(destination.Port())] {
		return fmt.Sprintf("port %d is not allowed", destination.Port())
	}
	if containedIn(rules.deny, addr) {
		return "in EGRESS_GATEWAY_DENY_CIDRS"
	}
	why := internal(addr)
	if why == "" {
		return ""
	}
	// The exemption never opens metadata or link-local.
	exemptable := why != "a cloud metadata address" && !strings.HasPrefix(why, "link-local")
	if exemptable && containedIn(rules.allow, addr) {
		return ""
	}
	return "an internal address (" + why + ")"
}
