package conf

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// parseListen checks a Metrics_Listen value: "" or "off" (no endpoint), or
// host:port with a numeric port from 1 to 65535 and a host that is empty
// (every interface), an IP address or a name.
func parseListen(v string) (string, error) {
	if v == "" || strings.EqualFold(v, "off") {
		return "", nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errors.New("bad port")
	}
	if strings.ContainsAny(host, " /\t") {
		return "", errors.New("bad host")
	}
	return v, nil
}
