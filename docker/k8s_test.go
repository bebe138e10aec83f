package docker

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/dosguard/dosguard/conf"
)

// manifest is one decoded Kubernetes object.
type manifest struct {
	file string
	kind string
	name string
	ns   string
	obj  any
}

func (m manifest) String() string { return fmt.Sprintf("%s %s/%s (%s)", m.kind, m.ns, m.name, m.file) }

// newObject returns the typed object for an apiVersion and kind.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}, true
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, true
	}
	return nil, false
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeStrict decodes one YAML document into its typed Kubernetes object
// the way the API server does: field names are case-sensitive, and unknown
// or duplicate fields are errors. (sigs.k8s.io/yaml's UnmarshalStrict goes
// through encoding/json, which would accept readOnlyRootFileSystem.)
func decodeStrict(doc []byte) (manifest, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return manifest{}, err
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return manifest{}, fmt.Errorf("apiVersion %q kind %q: not a type these tests know", tm.APIVersion, tm.Kind)
	}
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return manifest{}, err
	}
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return manifest{}, err
	}
	if len(strict) > 0 {
		return manifest{}, fmt.Errorf("%v", strict)
	}
	meta := obj.(metav1.Object)
	return manifest{kind: tm.Kind, name: meta.GetName(), ns: meta.GetNamespace(), obj: obj}, nil
}

// loadManifests decodes every document of every YAML file under eks/.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir("eks", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			m, err := decodeStrict([]byte(doc))
			if err != nil {
				t.Errorf("%s: document %d: %v", p, i, err)
				continue
			}
			m.file = filepath.ToSlash(p)
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("decoded only %d manifests", len(out))
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// cluster indexes the decoded manifests.
type cluster struct {
	all        []manifest
	configMaps map[string]*corev1.ConfigMap      // ns/name
	accounts   map[string]*corev1.ServiceAccount // ns/name
	services   map[string]*corev1.Service        // ns/name
	pods       []pod
}

// pod is the pod template of a Deployment or DaemonSet.
type pod struct {
	owner    manifest
	replicas *int32 // nil for a DaemonSet
	spec     *corev1.PodTemplateSpec
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{
		all:        loadManifests(t),
		configMaps: map[string]*corev1.ConfigMap{},
		accounts:   map[string]*corev1.ServiceAccount{},
		services:   map[string]*corev1.Service{},
	}
	for _, m := range c.all {
		key := m.ns + "/" + m.name
		switch o := m.obj.(type) {
		case *corev1.ConfigMap:
			c.configMaps[key] = o
		case *corev1.ServiceAccount:
			c.accounts[key] = o
		case *corev1.Service:
			c.services[key] = o
		case *appsv1.Deployment:
			c.pods = append(c.pods, pod{m, o.Spec.Replicas, &o.Spec.Template})
		case *appsv1.DaemonSet:
			c.pods = append(c.pods, pod{m, nil, &o.Spec.Template})
		}
	}
	if len(c.pods) < 4 {
		t.Fatalf("found %d workloads, want the Fargate, DaemonSet, aggregator and forwarder ones", len(c.pods))
	}
	return c
}

// fluentBitArgs returns the plugin (-e) and config (-c) a container's
// command line names.
func fluentBitArgs(c corev1.Container) (plugin, config string) {
	argv := append(slices.Clone(c.Command), c.Args...)
	for i := 0; i+1 < len(argv); i++ {
		switch argv[i] {
		case "-e":
			plugin = argv[i+1]
		case "-c":
			config = argv[i+1]
		}
	}
	return plugin, config
}

// mountFor returns the container's volume mount that holds path p.
func mountFor(c corev1.Container, p string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	for _, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) &&
			len(m.MountPath) >= len(best.MountPath) {
			best, found = m, true
		}
	}
	return best, found
}

func volume(spec *corev1.PodSpec, name string) (corev1.Volume, bool) {
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}

// containerConfig is the Fluent Bit config a container runs, loaded from
// the ConfigMap mounted where its -c points.
type containerConfig struct {
	file *conf.File
	dir  string                // where the ConfigMap's files were written
	cm   *corev1.ConfigMap     // the ConfigMap
	at   corev1.VolumeMount    // its mount
	res  func(string) []string // resolves a path in the container to local files
}

// loadContainerConfig writes the ConfigMap behind the container's -c into
// a temporary directory and loads it with conf.LoadFile.
func (c *cluster) loadContainerConfig(t *testing.T, p pod, ct corev1.Container, image map[string]string) (containerConfig, bool) {
	t.Helper()
	_, cfgPath := fluentBitArgs(ct)
	if cfgPath == "" {
		return containerConfig{}, false
	}
	m, ok := mountFor(ct, cfgPath)
	if !ok {
		t.Fatalf("%s: container %s: config %s is on no volume", p.owner, ct.Name, cfgPath)
	}
	v, _ := volume(&p.spec.Spec, m.Name)
	if v.ConfigMap == nil {
		t.Fatalf("%s: container %s: config %s is not on a ConfigMap volume", p.owner, ct.Name, cfgPath)
	}
	cm, ok := c.configMaps[p.owner.ns+"/"+v.ConfigMap.Name]
	if !ok {
		t.Fatalf("%s: ConfigMap %s not found", p.owner, v.ConfigMap.Name)
	}
	dir := t.TempDir()
	for k, data := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(cfgPath, m.MountPath), "/")
	if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
		t.Fatalf("%s: container %s: -c %s: ConfigMap %s has no key %s", p.owner, ct.Name, cfgPath, cm.Name, rel)
	}
	f := loadConfig(t, filepath.Join(dir, rel), map[string]string{"HOSTNAME": p.owner.name + "-0"})
	ours := strings.Contains(ct.Image, "/dosguard:")
	resolve := func(q string) []string {
		if mm, ok := mountFor(ct, q); ok && mm.Name == m.Name {
			got, _ := filepath.Glob(filepath.Join(dir, strings.TrimPrefix(q, mm.MountPath)))
			return got
		}
		if ours {
			var out []string
			for img, local := range image {
				if ok, _ := path.Match(q, img); ok && local != "" {
					out = append(out, local)
				}
			}
			return out
		}
		return nil
	}
	return containerConfig{file: f, dir: dir, cm: cm, at: m, res: resolve}, true
}

// TestManifestsDecodeStrictly decodes every manifest under eks/ into the
// Kubernetes API types, rejecting unknown fields; loadManifests fails the
// test on any error. The second half proves the decoding is strict: a
// misspelt field must be an error.
func TestManifestsDecodeStrictly(t *testing.T) {
	kinds := map[string]int{}
	for _, m := range loadManifests(t) {
		kinds[m.kind]++
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ConfigMap", "Deployment", "DaemonSet", "Service", "Ingress", "ClusterRole", "ClusterRoleBinding"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests", k)
		}
	}

	data, err := os.ReadFile("eks/fargate/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{"  replicas: 1\n", "  replicas: 1\n  replicaz: 2\n"},
		{"readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"sizeLimit: 1Gi", "sizeLimit: 1Gi\n            medium: Memory\n            size: 1Gi"},
	} {
		bad := strings.Replace(string(data), tc.from, tc.to, 1)
		if bad == string(data) {
			t.Fatalf("%q not found in the deployment", tc.from)
		}
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("decoding with %q accepted an unknown field", tc.to)
		}
	}
}

// TestConfigMapConfigsParse loads every Fluent Bit config in a ConfigMap
// with conf.LoadFile and validates its dosguard outputs: each must be a
// dry run as shipped (try it first), and name the same NACL, region and
// topic as the IAM policy.
func TestConfigMapConfigsParse(t *testing.T) {
	c := loadCluster(t)
	mains := 0
	for key, cm := range c.configMaps {
		dir := t.TempDir()
		for k, data := range cm.Data {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for k := range cm.Data {
			f := loadConfig(t, filepath.Join(dir, k), nil)
			if len(f.Sections("input")) == 0 {
				if len(f.Sections("parser")) == 0 {
					t.Errorf("ConfigMap %s: %s has neither inputs nor parsers", key, k)
				}
				continue
			}
			mains++
			for i, cfg := range parseDosguardOutputs(t, key+"/"+k, f) {
				if !cfg.DryRun {
					t.Errorf("ConfigMap %s: output %d: Dry_Run off as shipped: keep it on until the user has checked", key, i)
				}
				if !slices.Equal(cfg.ACLIDs, []string{exampleACLID}) || cfg.Region != exampleRegion || cfg.TopicARN != exampleTopicARN {
					t.Errorf("ConfigMap %s: output %d: NACL %v, region %q, topic %q; want %s, %s, %s as in iam-policy.json",
						key, i, cfg.ACLIDs, cfg.Region, cfg.TopicARN, exampleACLID, exampleRegion, exampleTopicARN)
				}
				if len(cfg.WAFIPSetARNs) > 0 && !slices.Equal(cfg.WAFIPSetARNs, exampleIPSetARNs) {
					t.Errorf("ConfigMap %s: output %d: IP sets %v, want %v as in iam-policy.json", key, i, cfg.WAFIPSetARNs, exampleIPSetARNs)
				}
			}
		}
	}
	if mains < 4 {
		t.Errorf("found %d Fluent Bit configs in ConfigMaps, want 4 (sidecar, node, aggregator, forwarder)", mains)
	}
}

// TestPodConfigPaths follows every Fluent Bit container's command line to
// its config and checks that the paths in the config agree with the pod:
// the plugin is where the image puts it, the parsers file exists and
// defines every parser used, each tail path is on a volume another
// container writes (the honeypot's log on the shared emptyDir) or on the
// node's /var/log, and the tail database is on a writable volume.
func TestPodConfigPaths(t *testing.T) {
	c := loadCluster(t)
	df, _ := parseDockerfile(t, "Dockerfile")
	image := df.imageFiles(t)
	tails := 0
	for _, p := range c.pods {
		for _, ct := range p.spec.Spec.Containers {
			cc, ok := c.loadContainerConfig(t, p, ct, image)
			if !ok {
				continue
			}
			where := fmt.Sprintf("%s: container %s", p.owner, ct.Name)
			plugin, _ := fluentBitArgs(ct)
			ours := strings.Contains(ct.Image, "/dosguard:")
			hasDosguard := len(cc.file.Outputs("dosguard")) > 0
			switch {
			case plugin != "" && !ours:
				t.Errorf("%s: -e %s, but %s is not the dosguard image", where, plugin, ct.Image)
			case plugin != "":
				if local, ok := image[plugin]; !ok || local != "" {
					t.Errorf("%s: -e %s: the image has no plugin there", where, plugin)
				}
			}
			if hasDosguard != (plugin != "") {
				t.Errorf("%s: dosguard outputs %v, plugin loaded %v", where, hasDosguard, plugin != "")
			}

			defined := parserNames(cc.file)
			if pf := serviceParsersFile(cc.file); pf != "" {
				files := cc.res(pf)
				if len(files) != 1 {
					t.Fatalf("%s: parsers_file %s: no such file in the container", where, pf)
				}
				for n := range parserNames(loadConfig(t, files[0], nil)) {
					defined[n] = true
				}
			}
			for _, name := range referencedParsers(cc.file) {
				if !defined[name] {
					t.Errorf("%s: parser %s is not defined", where, name)
				}
			}

			for _, in := range cc.file.Sections("input") {
				if !strings.EqualFold(in.Get("name"), "tail") {
					continue
				}
				tails++
				checkTail(t, where, p, ct, in)
			}
		}
	}
	if tails < 3 {
		t.Errorf("checked %d tail inputs, want the sidecar's, the forwarder's and the node's", tails)
	}
}

// checkTail checks one tail input of container ct in pod p.
func checkTail(t *testing.T, where string, p pod, ct corev1.Container, in conf.Props) {
	t.Helper()
	logPath := in.Get("path")
	m, ok := mountFor(ct, logPath)
	if !ok {
		t.Errorf("%s: tail path %s is on no volume", where, logPath)
		return
	}
	v, _ := volume(&p.spec.Spec, m.Name)
	switch {
	case v.EmptyDir != nil:
		if !m.ReadOnly {
			t.Errorf("%s: mounts the shared log volume %s read-write; the reader needs it read-only", where, m.Name)
		}
		writers := 0
		for _, other := range p.spec.Spec.Containers {
			if other.Name == ct.Name {
				continue
			}
			for _, om := range other.VolumeMounts {
				if om.Name == m.Name && !om.ReadOnly {
					writers++
					if om.MountPath != m.MountPath {
						t.Errorf("%s: the log volume is at %s here but at %s in %s: the paths in the docs would disagree", where, m.MountPath, om.MountPath, other.Name)
					}
				}
			}
		}
		if writers != 1 {
			t.Errorf("%s: tail path %s: %d other containers write volume %s, want 1 (the honeypot)", where, logPath, writers, m.Name)
		}
	case v.HostPath != nil:
		if logPath != "/var/log/containers/*.log" || v.HostPath.Path != "/var/log" || !m.ReadOnly {
			t.Errorf("%s: tail %s on hostPath %s (read-only %v), want /var/log/containers/*.log on /var/log read-only", where, logPath, v.HostPath.Path, m.ReadOnly)
		}
	default:
		t.Errorf("%s: tail path %s is on volume %s, neither emptyDir nor hostPath", where, logPath, m.Name)
	}
	db := in.Get("db")
	if db == "" {
		t.Errorf("%s: tail has no db: a restarted container would read the log again", where)
		return
	}
	dm, ok := mountFor(ct, db)
	if !ok || dm.ReadOnly {
		t.Errorf("%s: tail db %s is not on a writable volume (the root filesystem is read-only)", where, db)
		return
	}
	if dv, _ := volume(&p.spec.Spec, dm.Name); dv.EmptyDir == nil && dv.HostPath == nil {
		t.Errorf("%s: tail db %s is on volume %s, neither emptyDir nor hostPath", where, db, dm.Name)
	}
}

// rootExceptions lists the containers allowed to run as root, and why.
var rootExceptions = map[string]string{
	"DaemonSet dosguard/dosguard-node: dosguard": "reads the root-owned 0640 files under /var/log/pods",
}

// TestPodSecurity checks every container of every workload: no privilege
// escalation, read-only root filesystem, all capabilities dropped, not
// root (but for rootExceptions), a RuntimeDefault seccomp profile, CPU and
// memory requests and limits, and pinned image tags.
func TestPodSecurity(t *testing.T) {
	c := loadCluster(t)
	for _, p := range c.pods {
		spec := p.spec.Spec
		psc := spec.SecurityContext
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod seccompProfile is not RuntimeDefault", p.owner)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: shares a host namespace", p.owner)
		}
		for _, ct := range spec.Containers {
			where := fmt.Sprintf("%s %s/%s: %s", p.owner.kind, p.owner.ns, p.owner.name, ct.Name)
			sc := ct.SecurityContext
			if sc == nil {
				t.Errorf("%s: no securityContext", where)
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", where)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities do not drop ALL, or add some", where)
			}
			nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			if why, ok := rootExceptions[where]; ok {
				if nonRoot {
					t.Errorf("%s: listed as needing root (%s) but runs as non-root: drop the exception", where, why)
				}
			} else if !nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := ct.Resources.Requests[r]
				lim, hasLim := ct.Resources.Limits[r]
				if !hasReq || !hasLim || lim.Cmp(req) < 0 || lim.Cmp(resource.MustParse("0")) <= 0 {
					t.Errorf("%s: %s request %v and limit %v: want both, limit >= request", where, r, req.String(), lim.String())
				}
			}
			if name, tag, ok := strings.Cut(path.Base(ct.Image), ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("%s: image %s (%s) has no pinned tag", where, ct.Image, name)
			}
		}
	}
}

var roleARN = regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`)

// TestIRSA checks who gets AWS credentials: every pod that runs dosguard
// has a ServiceAccount with an IRSA role; within such a pod every other
// container is excluded from the credentials (skip-containers); a pod
// without dosguard has no role at all.
func TestIRSA(t *testing.T) {
	c := loadCluster(t)
	for _, p := range c.pods {
		sa, ok := c.accounts[p.owner.ns+"/"+p.spec.Spec.ServiceAccountName]
		if !ok {
			t.Errorf("%s: ServiceAccount %q not found in %s", p.owner, p.spec.Spec.ServiceAccountName, p.owner.ns)
			continue
		}
		role := sa.Annotations["eks.amazonaws.com/role-arn"]
		var runsDosguard, others []string
		for _, ct := range p.spec.Spec.Containers {
			if plugin, _ := fluentBitArgs(ct); plugin != "" {
				runsDosguard = append(runsDosguard, ct.Name)
			} else {
				others = append(others, ct.Name)
			}
		}
		switch {
		case len(runsDosguard) > 0 && !roleARN.MatchString(role):
			t.Errorf("%s: runs dosguard, but ServiceAccount %s has role-arn %q", p.owner, sa.Name, role)
		case len(runsDosguard) == 0 && role != "":
			t.Errorf("%s: runs no dosguard, but ServiceAccount %s has role %s", p.owner, sa.Name, role)
		}
		if role != "" && len(others) > 0 {
			skipped := strings.Split(strings.ReplaceAll(p.spec.Annotations["eks.amazonaws.com/skip-containers"], " ", ""), ",")
			for _, o := range others {
				if !slices.Contains(skipped, o) {
					t.Errorf("%s: container %s would get the dosguard role's credentials: list it in eks.amazonaws.com/skip-containers", p.owner, o)
				}
			}
		}
	}
}

// TestIngressReachesHoneypot checks the ALB path: the Ingress is for the
// AWS Load Balancer Controller with target-type ip (required on Fargate),
// pinned subnets (whose NACL dosguard writes to) and X-Forwarded-For in
// append mode (what the xff_client parser relies on); its backend Service
// exists, selects the honeypot pods and targets a port they declare.
func TestIngressReachesHoneypot(t *testing.T) {
	c := loadCluster(t)
	ingresses := 0
	for _, m := range c.all {
		ing, ok := m.obj.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		ingresses++
		a := ing.Annotations
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "alb" {
			t.Errorf("%s: ingressClassName is not alb", m)
		}
		if a["alb.ingress.kubernetes.io/target-type"] != "ip" {
			t.Errorf("%s: target-type %q, want ip", m, a["alb.ingress.kubernetes.io/target-type"])
		}
		if a["alb.ingress.kubernetes.io/scheme"] != "internet-facing" {
			t.Errorf("%s: scheme %q, want internet-facing", m, a["alb.ingress.kubernetes.io/scheme"])
		}
		if !strings.Contains(a["alb.ingress.kubernetes.io/subnets"], "subnet-") {
			t.Errorf("%s: subnets not pinned: the NACL to write to would be unknown", m)
		}
		if !strings.Contains(a["alb.ingress.kubernetes.io/load-balancer-attributes"], "routing.http.xff_header_processing.mode=append") {
			t.Errorf("%s: X-Forwarded-For processing mode is not set to append", m)
		}
		for _, r := range ing.Spec.Rules {
			for _, hp := range r.HTTP.Paths {
				b := hp.Backend.Service
				svc, ok := c.services[m.ns+"/"+b.Name]
				if !ok {
					t.Errorf("%s: backend Service %s not found", m, b.Name)
					continue
				}
				var port *corev1.ServicePort
				for i := range svc.Spec.Ports {
					if sp := &svc.Spec.Ports[i]; sp.Name == b.Port.Name || (b.Port.Number != 0 && sp.Port == b.Port.Number) {
						port = sp
					}
				}
				if port == nil {
					t.Errorf("%s: Service %s has no port %v", m, b.Name, b.Port)
					continue
				}
				checkServiceTargets(t, c, m.ns, svc, *port)
			}
		}
	}
	if ingresses == 0 {
		t.Fatal("no Ingress")
	}
}

// checkServiceTargets checks that svc selects at least one workload in ns
// and that every selected pod declares the port's target.
func checkServiceTargets(t *testing.T, c *cluster, ns string, svc *corev1.Service, port corev1.ServicePort) {
	t.Helper()
	selected := 0
	for _, p := range c.pods {
		if p.owner.ns != ns || !selects(svc.Spec.Selector, p.spec.Labels) {
			continue
		}
		selected++
		found := false
		for _, ct := range p.spec.Spec.Containers {
			for _, cp := range ct.Ports {
				if (port.TargetPort.StrVal != "" && cp.Name == port.TargetPort.StrVal) || cp.ContainerPort == port.TargetPort.IntVal {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("Service %s/%s: target port %s is not declared by %s", ns, svc.Name, port.TargetPort.String(), p.owner)
		}
	}
	if selected == 0 {
		t.Errorf("Service %s/%s selects no workload", ns, svc.Name)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestNodeDaemonSet checks the EC2-node variant: it tails every container
// log, enriches records with the kubernetes filter, may read pods and
// namespaces through RBAC, and stays off Fargate nodes.
func TestNodeDaemonSet(t *testing.T) {
	c := loadCluster(t)
	df, _ := parseDockerfile(t, "Dockerfile")
	image := df.imageFiles(t)
	found := false
	for _, p := range c.pods {
		if p.owner.kind != "DaemonSet" {
			continue
		}
		found = true
		for _, ct := range p.spec.Spec.Containers {
			cc, ok := c.loadContainerConfig(t, p, ct, image)
			if !ok {
				t.Fatalf("%s: container %s runs no Fluent Bit config", p.owner, ct.Name)
			}
			var tags []string
			for _, in := range cc.file.Sections("input") {
				if in.Get("path") == "/var/log/containers/*.log" {
					tags = append(tags, strings.ReplaceAll(in.Get("tag"), "*", "var.log.containers.x.log"))
				}
			}
			if len(tags) == 0 {
				t.Fatalf("%s: no tail of /var/log/containers/*.log", p.owner)
			}
			kube := false
			for _, f := range cc.file.Sections("filter") {
				if strings.EqualFold(f.Get("name"), "kubernetes") && matches(f.Get("match"), tags[0]) {
					kube = true
				}
			}
			if !kube {
				t.Errorf("%s: no kubernetes filter on tag %s", p.owner, tags[0])
			}
			for _, o := range cc.file.Outputs("dosguard") {
				if !matches(o.Get("match"), tags[0]) {
					t.Errorf("%s: the dosguard output's match %q misses tag %s", p.owner, o.Get("match"), tags[0])
				}
			}
		}
		if !canReadPods(c, p.owner.ns, p.spec.Spec.ServiceAccountName) {
			t.Errorf("%s: ServiceAccount %s may not get/list/watch pods and namespaces", p.owner, p.spec.Spec.ServiceAccountName)
		}
		aff := p.spec.Spec.Affinity
		if aff == nil || aff.NodeAffinity == nil || !strings.Contains(fmt.Sprint(aff.NodeAffinity), "fargate") {
			t.Errorf("%s: no node affinity keeping it off Fargate", p.owner)
		}
	}
	if !found {
		t.Fatal("no DaemonSet")
	}
}

// canReadPods reports whether a ClusterRoleBinding gives the ServiceAccount
// a ClusterRole with get, list and watch on pods and namespaces.
func canReadPods(c *cluster, ns, sa string) bool {
	roles := map[string]*rbacv1.ClusterRole{}
	for _, m := range c.all {
		if r, ok := m.obj.(*rbacv1.ClusterRole); ok {
			roles[r.Name] = r
		}
	}
	for _, m := range c.all {
		b, ok := m.obj.(*rbacv1.ClusterRoleBinding)
		if !ok {
			continue
		}
		bound := false
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ns {
				bound = true
			}
		}
		role, ok := roles[b.RoleRef.Name]
		if !bound || !ok || b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		need := map[string]bool{}
		for _, res := range []string{"pods", "namespaces"} {
			for _, v := range []string{"get", "list", "watch"} {
				need[res+"/"+v] = true
			}
		}
		for _, r := range role.Rules {
			if !slices.Contains(r.APIGroups, "") {
				continue
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					delete(need, res+"/"+v)
				}
			}
		}
		if len(need) == 0 {
			return true
		}
	}
	return false
}

// TestAggregatorTopology checks the scale-out variant end to end: each
// forwarder's forward output reaches a Service whose pods listen with a
// forward input on that port and run dosguard on the forwarded tags and on
// the field the forwarder extracts; the aggregator runs one replica, never
// two at once, so the counts stay global.
func TestAggregatorTopology(t *testing.T) {
	c := loadCluster(t)
	df, _ := parseDockerfile(t, "Dockerfile")
	image := df.imageFiles(t)
	forwarders := 0
	for _, p := range c.pods {
		for _, ct := range p.spec.Spec.Containers {
			cc, ok := c.loadContainerConfig(t, p, ct, image)
			if !ok {
				continue
			}
			for _, out := range cc.file.Sections("output") {
				if !strings.EqualFold(out.Get("name"), "forward") {
					continue
				}
				forwarders++
				where := fmt.Sprintf("%s: container %s", p.owner, ct.Name)
				var tag, field string
				for _, in := range cc.file.Sections("input") {
					tag = in.Get("tag")
				}
				for _, f := range cc.file.Sections("filter") {
					if strings.EqualFold(f.Get("name"), "modify") {
						_, field, _ = strings.Cut(f.Get("copy"), " ")
					}
				}
				if !matches(out.Get("match"), tag) {
					t.Errorf("%s: forward output match %q misses the input's tag %q", where, out.Get("match"), tag)
				}
				host := strings.Split(out.Get("host"), ".")
				if len(host) < 3 || host[2] != "svc" {
					t.Fatalf("%s: forward host %q is not <service>.<namespace>.svc...", where, out.Get("host"))
				}
				svc, ok := c.services[host[1]+"/"+host[0]]
				if !ok {
					t.Fatalf("%s: forward host %s: no Service %s/%s", where, out.Get("host"), host[1], host[0])
				}
				checkAggregator(t, c, image, where, svc, out.Get("port"), tag, field)
			}
		}
	}
	if forwarders == 0 {
		t.Fatal("no forwarder")
	}
}

func checkAggregator(t *testing.T, c *cluster, image map[string]string, where string, svc *corev1.Service, port, tag, field string) {
	t.Helper()
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if strconv.Itoa(int(svc.Spec.Ports[i].Port)) == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		t.Fatalf("%s: Service %s has no port %s", where, svc.Name, port)
	}
	aggregators := 0
	for _, p := range c.pods {
		if p.owner.ns != svc.Namespace || !selects(svc.Spec.Selector, p.spec.Labels) {
			continue
		}
		aggregators++
		d := p.owner.obj.(*appsv1.Deployment)
		if p.replicas == nil || *p.replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			replicas := "unset"
			if p.replicas != nil {
				replicas = strconv.Itoa(int(*p.replicas))
			}
			t.Errorf("%s: replicas %s, strategy %q: want 1 replica and Recreate, or the counts split", p.owner, replicas, d.Spec.Strategy.Type)
		}
		for _, ct := range p.spec.Spec.Containers {
			listen := ""
			for _, cp := range ct.Ports {
				if cp.Name == sp.TargetPort.StrVal || cp.ContainerPort == sp.TargetPort.IntVal {
					listen = strconv.Itoa(int(cp.ContainerPort))
				}
			}
			if listen == "" {
				continue
			}
			cc, ok := c.loadContainerConfig(t, p, ct, image)
			if !ok {
				t.Fatalf("%s: container %s runs no Fluent Bit config", p.owner, ct.Name)
			}
			input := false
			for _, in := range cc.file.Sections("input") {
				if strings.EqualFold(in.Get("name"), "forward") && in.Get("port") == listen {
					input = true
				}
			}
			if !input {
				t.Errorf("%s: no forward input on port %s", p.owner, listen)
			}
			outs := cc.file.Outputs("dosguard")
			if len(outs) == 0 {
				t.Errorf("%s: the aggregator runs no dosguard", p.owner)
			}
			for _, o := range outs {
				if !matches(o.Get("match"), tag) || o.Get("key") != field {
					t.Errorf("%s: dosguard match %q key %q, want a match for forwarded tag %q and key %q", p.owner, o.Get("match"), o.Get("key"), tag, field)
				}
			}
		}
	}
	if aggregators != 1 {
		t.Errorf("%s: Service %s selects %d workloads, want the one aggregator", where, svc.Name, aggregators)
	}
}

// TestForwarderParsersMatch checks that parsers copied into ConfigMaps (for
// the official image, which does not have docker/parsers.conf) are the
// same as in docker/parsers.conf.
func TestForwarderParsersMatch(t *testing.T) {
	c := loadCluster(t)
	want := map[string]conf.Props{}
	for _, p := range loadConfig(t, "parsers.conf", nil).Sections("parser") {
		want[p.Get("name")] = p
	}
	copies := 0
	for key, cm := range c.configMaps {
		dir := t.TempDir()
		for k, data := range cm.Data {
			file := filepath.Join(dir, k)
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, p := range loadConfig(t, file, nil).Sections("parser") {
				copies++
				w, ok := want[p.Get("name")]
				if !ok {
					t.Errorf("ConfigMap %s: parser %s is not in docker/parsers.conf", key, p.Get("name"))
					continue
				}
				for _, prop := range []string{"format", "regex", "time_key", "time_format", "time_keep"} {
					if p.Get(prop) != w.Get(prop) {
						t.Errorf("ConfigMap %s: parser %s: %s %q, docker/parsers.conf has %q", key, p.Get("name"), prop, p.Get(prop), w.Get(prop))
					}
				}
			}
		}
	}
	if copies == 0 {
		t.Fatal("no parser in any ConfigMap: the forwarder's are gone?")
	}
}
