package wafipset

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/dosguard/dosguard/ban"
)

// cloudFrontRegion is where CLOUDFRONT-scoped sets are called.
const cloudFrontRegion = "us-east-1"

// ARN is a WAFv2 IP set's ARN, taken apart:
// arn:PARTITION:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID, or
// global/ipset/NAME/ID for the CLOUDFRONT scope.
type ARN struct {
	Raw     string
	Region  string // where to call: us-east-1 for CLOUDFRONT
	Account string
	Scope   types.Scope
	Name    string
	ID      string
}

// ParseARN parses s as an IP set ARN.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "wafv2" || parts[4] == "" {
		return ARN{}, fmt.Errorf("not a WAFv2 ARN (want arn:aws:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID)")
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 4 || res[1] != "ipset" || res[2] == "" || res[3] == "" {
		return ARN{}, fmt.Errorf("not an IP set ARN (want .../regional/ipset/NAME/ID or .../global/ipset/NAME/ID)")
	}
	a := ARN{Raw: s, Region: parts[3], Account: parts[4], Name: res[2], ID: res[3]}
	switch res[0] {
	case "regional":
		a.Scope = types.ScopeRegional
		if a.Region == "" {
			return ARN{}, fmt.Errorf("regional IP set ARN without a region")
		}
	case "global":
		a.Scope, a.Region = types.ScopeCloudfront, cloudFrontRegion
	default:
		return ARN{}, fmt.Errorf("scope %q: want regional or global", res[0])
	}
	return a, nil
}

// String returns the ARN as given.
func (a ARN) String() string { return a.Raw }

// IsTarget reports whether a target id (ban.Entry.Target) is an IP set's:
// a Set's id is its ARN, a network ACL's is "acl-...".
func IsTarget(id string) bool { return ban.IsIPSet(id) }
