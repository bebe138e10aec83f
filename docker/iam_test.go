package docker

import (
	"encoding/json"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// awsAPIs are the interfaces through which dosguard calls AWS (STYLE.md:
// they list only the SDK methods the code calls), and the IAM service
// prefix of each.
var awsAPIs = []struct{ dir, iface, service string }{
	{"acl", "EC2API", "ec2"},
	{"notify", "SNSAPI", "sns"},
	{"wafipset", "WAFAPI", "wafv2"},
}

// calledActions derives the IAM actions the code needs: the methods of each
// AWS interface that are also called somewhere in its package (a method
// nobody calls would ask for a permission nobody uses).
func calledActions(t *testing.T) []string {
	t.Helper()
	var actions []string
	for _, api := range awsAPIs {
		dir := filepath.Join(repoRoot, api.dir)
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		var (
			methods []string
			src     strings.Builder
		)
		fset := token.NewFileSet()
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(data)
			f, err := goparser.ParseFile(fset, file, data, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok || ts.Name.Name != api.iface {
					return true
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					t.Fatalf("%s.%s is not an interface", api.dir, api.iface)
				}
				for _, m := range it.Methods.List {
					if len(m.Names) == 0 {
						t.Fatalf("%s.%s embeds %v: list the SDK methods instead", api.dir, api.iface, m.Type)
					}
					for _, n := range m.Names {
						methods = append(methods, n.Name)
					}
				}
				return false
			})
		}
		if len(methods) == 0 {
			t.Fatalf("no interface %s in %s", api.iface, dir)
		}
		for _, m := range methods {
			call := regexp.MustCompile(`\.` + m + `\(`)
			if !call.MatchString(src.String()) {
				// Not a failure of the deployment: the policy follows the
				// calls. STYLE.md wants the method off the interface.
				t.Logf("note: %s.%s declares %s, which package %s never calls: no permission for it", api.dir, api.iface, m, api.dir)
				continue
			}
			actions = append(actions, api.service+":"+m)
		}
	}
	// Redis_IAM_Auth signs ElastiCache connect tokens (package shared):
	// elasticache:Connect, in a statement of its own.
	if data, err := os.ReadFile(filepath.Join(repoRoot, "shared", "iam.go")); err == nil && strings.Contains(string(data), `"elasticache"`) {
		actions = append(actions, "elasticache:Connect")
	}
	sort.Strings(actions)
	return actions
}

// policyStatement is one statement of an IAM policy; Action and Resource
// may each be a string or a list.
type policyStatement struct {
	Sid         string
	Effect      string
	Action      stringOrList
	Resource    stringOrList
	NotAction   any
	NotResource any
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

var (
	naclARN  = regexp.MustCompile(`^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:network-acl/(acl-[0-9a-f]+)$`)
	topicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$`)
	// elastiCacheARN is a replication group, serverless cache or user.
	elastiCacheARN = regexp.MustCompile(`^arn:aws[a-z-]*:elasticache:[a-z0-9-]+:\d{12}:(replicationgroup|serverlesscache|user):[A-Za-z0-9-]+$`)
)

// TestIAMPolicy checks eks/iam-policy.json against the code: it allows
// exactly the actions packages acl, notify and wafipset call, no more, no
// fewer; the NACL writes are scoped to the NACL's ARN, the IP set calls
// (wafv2:GetIPSet, wafv2:UpdateIPSet) to the IP sets' ARNs, sns:Publish to the topic's ARN, and
// only the read-only Describe call has Resource "*" (EC2 cannot scope it).
// The NACL and topic are the ones the ConfigMaps name.
func TestIAMPolicy(t *testing.T) {
	want := calledActions(t)
	t.Logf("actions the code calls: %v", want)

	data, err := os.ReadFile("eks/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Version   string
		Statement []policyStatement
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&policy); err != nil {
		t.Fatalf("iam-policy.json: %v", err)
	}
	if policy.Version != "2012-10-17" {
		t.Errorf("Version = %q, want 2012-10-17", policy.Version)
	}
	var got []string
	for i, s := range policy.Statement {
		where := fmt.Sprintf("statement %d (%s)", i, s.Sid)
		if s.Effect != "Allow" || s.NotAction != nil || s.NotResource != nil {
			t.Errorf("%s: want a plain Allow with Action and Resource", where)
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("%s: no Action or no Resource", where)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", where, a)
			}
			got = append(got, a)
			for _, r := range s.Resource {
				switch {
				case strings.HasPrefix(a, "ec2:Describe"):
					if r != "*" {
						t.Errorf("%s: %s on %s: EC2 Describe calls take no resource, use \"*\"", where, a, r)
					}
				case strings.HasPrefix(a, "ec2:"):
					m := naclARN.FindStringSubmatch(r)
					if m == nil || m[1] != exampleACLID {
						t.Errorf("%s: %s on %q, want the NACL's ARN (network-acl/%s)", where, a, r, exampleACLID)
					}
				case a == "elasticache:Connect":
					if !elastiCacheARN.MatchString(r) || !strings.Contains(s.Sid, "RedisIAMAuth") || len(s.Action) != 1 {
						t.Errorf("%s: %s on %q: want the cache's and the user's ARNs, alone in a statement whose Sid names RedisIAMAuth", where, a, r)
					}
				case strings.HasPrefix(a, "wafv2:"):
					if !slices.Contains(exampleIPSetARNs, r) {
						t.Errorf("%s: %s on %q, want one of the IP sets' ARNs %v", where, a, r, exampleIPSetARNs)
					}
				case a == "sns:Publish":
					if !topicARN.MatchString(r) || r != exampleTopicARN {
						t.Errorf("%s: %s on %q, want the topic's ARN %s", where, a, r, exampleTopicARN)
					}
				default:
					t.Errorf("%s: %s: no scoping rule in this test", where, a)
				}
				if !strings.HasPrefix(a, "ec2:Describe") && strings.Contains(r, "*") {
					t.Errorf("%s: %s on wildcard resource %s", where, a, r)
				}
				if strings.HasPrefix(r, "arn:") && !strings.Contains(r, ":"+exampleRegion+":") {
					t.Errorf("%s: %s is not in region %s like the configs", where, r, exampleRegion)
				}
			}
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("policy allows %v, the code calls %v", got, want)
	}
}
