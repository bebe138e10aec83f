package conf

import (
	"net/url"
	"strconv"

	"github.com/dosguard/dosguard/wafipset"
)

// The AWS WAF IP set keys (issue 9: block into IP sets).
const (
	KeyWAFIPSetARN   = "WAF_IP_Set_ARN"
	KeyWAFEndpoint   = "WAF_Endpoint"
	KeyWAFEntryLimit = "WAF_Entry_Limit"
)

// DefaultWAFEntryLimit is AWS's limit of addresses in one IP set.
const DefaultWAFEntryLimit = wafipset.MaxEntries

// parseWAF reads WAF_IP_Set_ARN, WAF_Endpoint and WAF_Entry_Limit.
func (c *Config) parseWAF(get func(string) string) error {
	c.WAFEntryLimit = DefaultWAFEntryLimit
	if v := get(KeyWAFIPSetARN); v != "" {
		for _, s := range splitList(v) {
			if _, err := wafipset.ParseARN(s); err != nil {
				return bad(KeyWAFIPSetARN, s, "is not a WAFv2 IP set ARN such as arn:aws:wafv2:us-east-1:123456789012:regional/ipset/dosguard-v4/1234abcd-...: %v", err)
			}
			if !contains(c.WAFIPSetARNs, s) {
				c.WAFIPSetARNs = append(c.WAFIPSetARNs, s)
			}
		}
	}
	if v := get(KeyWAFEndpoint); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad(KeyWAFEndpoint, v, "is not an http(s) URL")
		}
		c.WAFEndpoint = v
	}
	if v := get(KeyWAFEntryLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > wafipset.MaxEntries {
			return bad(KeyWAFEntryLimit, v, "is not an integer from 1 to %d", wafipset.MaxEntries)
		}
		c.WAFEntryLimit = n
	}
	return nil
}

// Targets reports whether any blocking target is configured: a Network
// ACL or a WAF IP set.
func (c Config) Targets() bool { return len(c.ACLIDs) > 0 || len(c.WAFIPSetARNs) > 0 }
