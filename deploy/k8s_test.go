package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/stanft/stanft/internal/testenv"
)

// manifests is every object of deploy/k8s, decoded strictly.
type manifests struct {
	configMaps   []*corev1.ConfigMap
	claims       []*corev1.PersistentVolumeClaim
	services     []*corev1.Service
	statefulSets []*appsv1.StatefulSet
	pdbs         []*policyv1.PodDisruptionBudget
}

// typeMeta is read first to pick the Go type of a document.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// splitDocs splits a YAML stream into its non-empty documents.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// decodeDoc decodes one document strictly (unknown or duplicate fields fail)
// into its k8s.io/api type and adds it to m.
func (m *manifests) decodeDoc(doc []byte) error {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("type meta: %w", err)
	}
	var obj any
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/ConfigMap":
		o := &corev1.ConfigMap{}
		m.configMaps, obj = append(m.configMaps, o), o
	case "v1/PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		m.claims, obj = append(m.claims, o), o
	case "v1/Service":
		o := &corev1.Service{}
		m.services, obj = append(m.services, o), o
	case "apps/v1/StatefulSet":
		o := &appsv1.StatefulSet{}
		m.statefulSets, obj = append(m.statefulSets, o), o
	case "policy/v1/PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, o), o
	default:
		return fmt.Errorf("unexpected kind %q (apiVersion %q)", tm.Kind, tm.APIVersion)
	}
	// sigs.k8s.io/yaml's UnmarshalStrict matches field names case-insensitively
	// (encoding/json); the API server does not, so decode as it does:
	// case-sensitive, unknown and duplicate fields are errors.
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("%s: %w", tm.Kind, errors.Join(strictErrs...))
	}
	return nil
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	m := &manifests{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocs(b) {
			if err := m.decodeDoc(doc); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
		}
	}
	return m
}

// TestStrictDecodingRejectsUnknownFields shows the decoder used by every other
// test would catch a misspelt field.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	bad := []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n",
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replica: 2}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {a: c}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
	}
	for _, doc := range bad {
		if err := (&manifests{}).decodeDoc([]byte(doc)); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
	good := "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None}\n"
	if err := (&manifests{}).decodeDoc([]byte(good)); err != nil {
		t.Errorf("valid document rejected: %v", err)
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	if len(m.statefulSets) != 1 || len(m.claims) != 1 || len(m.configMaps) != 1 || len(m.pdbs) != 1 || len(m.services) != 2 {
		t.Fatalf("want 1 StatefulSet, 1 PVC, 1 ConfigMap, 1 PDB, 2 Services; got %d, %d, %d, %d, %d",
			len(m.statefulSets), len(m.claims), len(m.configMaps), len(m.pdbs), len(m.services))
	}
}

// stanftContainer returns the StatefulSet and its stanft container.
func stanftContainer(t *testing.T, m *manifests) (*appsv1.StatefulSet, *corev1.Container) {
	t.Helper()
	if len(m.statefulSets) != 1 {
		t.Fatalf("want one StatefulSet, got %d", len(m.statefulSets))
	}
	ss := m.statefulSets[0]
	cs := ss.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return ss, &cs[0]
}

// argValue returns the value of a -name=value / --name=value argument.
func argValue(args []string, names ...string) (string, bool) {
	for _, a := range args {
		for _, n := range names {
			for _, p := range []string{"-" + n + "=", "--" + n + "="} {
				if v, ok := strings.CutPrefix(a, p); ok {
					return v, true
				}
			}
		}
	}
	return "", false
}

func TestOneSharedClaim(t *testing.T) {
	m := loadManifests(t)
	ss, c := stanftContainer(t, m)
	if n := len(ss.Spec.VolumeClaimTemplates); n != 0 {
		t.Fatalf("volumeClaimTemplates give each member its own datastore: %d templates", n)
	}
	if len(m.claims) != 1 {
		t.Fatalf("want exactly one PVC, got %d", len(m.claims))
	}
	pvc := m.claims[0]
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("PVC %s access modes %v: want ReadWriteMany", pvc.Name, pvc.Spec.AccessModes)
	}
	var claimVolumes []corev1.Volume
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claimVolumes = append(claimVolumes, v)
		}
	}
	if len(claimVolumes) != 1 || claimVolumes[0].PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Fatalf("pod volumes must reference the one claim %q by claimName, got %+v", pvc.Name, claimVolumes)
	}
	if claimVolumes[0].PersistentVolumeClaim.ReadOnly {
		t.Error("datastore claim mounted read-only")
	}
	// The datastore directory of the configuration lies on that volume.
	cfg := serverConfig(t, m)
	dir, _ := cfg["dir"].(string)
	mounted := false
	for _, vm := range c.VolumeMounts {
		if vm.Name == claimVolumes[0].Name && !vm.ReadOnly && strings.HasPrefix(dir, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("datastore dir %q is not on a writable mount of volume %q", dir, claimVolumes[0].Name)
	}
}

// monitorPort returns the -m value and checks the named container port agrees.
func monitorPort(t *testing.T, c *corev1.Container) int32 {
	t.Helper()
	v, ok := argValue(c.Args, "m", "http_port")
	if !ok {
		t.Fatalf("container args %q have no -m (monitoring port)", c.Args)
	}
	for _, p := range c.Ports {
		if p.Name == "monitor" {
			if fmt.Sprint(p.ContainerPort) != v {
				t.Fatalf("container port monitor=%d but -m=%s", p.ContainerPort, v)
			}
			return p.ContainerPort
		}
	}
	t.Fatal("no container port named monitor")
	return 0
}

func TestProbes(t *testing.T) {
	m := loadManifests(t)
	ss, c := stanftContainer(t, m)
	port := monitorPort(t, c)
	check := func(name string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe on %s", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s probe path %q, want %q (never role-gated)", name, p.HTTPGet.Path, path)
		}
		pp := p.HTTPGet.Port
		if !(pp.Type == intstr.String && pp.StrVal == "monitor") && !(pp.Type == intstr.Int && pp.IntVal == port) {
			t.Errorf("%s probe port %s, want the monitoring port (%d)", name, pp.String(), port)
		}
	}
	check("startup", c.StartupProbe, "/healthz")
	check("liveness", c.LivenessProbe, "/healthz")
	check("readiness", c.ReadinessProbe, "/readyz")
	ann := ss.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != fmt.Sprint(port) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus annotations %v: want scrape=true, port=%d, path=/metrics", ann, port)
	}
}

func TestStatefulSetShape(t *testing.T) {
	m := loadManifests(t)
	ss, c := stanftContainer(t, m)
	spec := ss.Spec.Template.Spec
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", ss.Spec.Replicas)
	}
	if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q, want Parallel", ss.Spec.PodManagementPolicy)
	}
	labels := ss.Spec.Template.Labels
	if !matches(ss.Spec.Selector.MatchLabels, labels) {
		t.Errorf("selector %v does not match pod labels %v", ss.Spec.Selector.MatchLabels, labels)
	}
	aa := spec.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)+len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatal("no pod anti-affinity")
	}
	for _, term := range aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey == "" || term.LabelSelector == nil || !matches(term.LabelSelector.MatchLabels, labels) {
			t.Errorf("anti-affinity term %+v does not select the members by hostname", term)
		}
	}

	// Services: a headless one named by serviceName, publishing not-ready
	// members (routes form before readiness), and a client one.
	var headless, client *corev1.Service
	for _, s := range m.services {
		if !matches(s.Spec.Selector, labels) {
			t.Errorf("service %s selector %v does not match pod labels", s.Name, s.Spec.Selector)
		}
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = s
		} else {
			client = s
		}
	}
	if headless == nil || headless.Name != ss.Spec.ServiceName || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("want a headless service named %q with publishNotReadyAddresses", ss.Spec.ServiceName)
	}
	if client == nil || !servicePort(client, "client") {
		t.Error("want a client service exposing the client port")
	}
	// Routes name every member through the headless service.
	routes, _ := argValue(c.Args, "routes")
	for i := int32(0); ss.Spec.Replicas != nil && i < *ss.Spec.Replicas; i++ {
		want := fmt.Sprintf("nats://%s-%d.%s:6222", ss.Name, i, ss.Spec.ServiceName)
		if !slices.Contains(strings.Split(routes, ","), want) {
			t.Errorf("--routes %q lacks %s", routes, want)
		}
	}

	// PDB keeps a member up through voluntary disruptions.
	if len(m.pdbs) != 1 {
		t.Fatalf("want one PodDisruptionBudget, got %d", len(m.pdbs))
	}
	pdb := m.pdbs[0]
	if pdb.Spec.Selector == nil || !matches(pdb.Spec.Selector.MatchLabels, labels) {
		t.Error("PDB does not select the members")
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}

	// Graceful hand-off: preStop, then SIGTERM within the grace period.
	grace := spec.TerminationGracePeriodSeconds
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("want a preStop sleep (the image has no shell)")
	}
	if grace == nil || *grace < c.Lifecycle.PreStop.Sleep.Seconds+10 {
		t.Errorf("terminationGracePeriodSeconds %v leaves under 10 s after the %d s preStop", grace, c.Lifecycle.PreStop.Sleep.Seconds)
	}

	// Non-root, read-only root filesystem.
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod must run as a non-root numeric user")
	}
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Error("container must have a read-only root filesystem, no privilege escalation, all capabilities dropped")
	}
}

func matches(selector, labels map[string]string) bool {
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

func servicePort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// configFile returns the ConfigMap key mounted at the -sc path.
func configFile(t *testing.T, m *manifests) (path, content string) {
	t.Helper()
	ss, c := stanftContainer(t, m)
	sc, ok := argValue(c.Args, "sc", "stan_config")
	if !ok {
		t.Fatalf("container args %q have no -sc", c.Args)
	}
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(sc, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range ss.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			for _, cm := range m.configMaps {
				if cm.Name == v.ConfigMap.Name {
					if s, ok := cm.Data[rel]; ok {
						return sc, s
					}
				}
			}
		}
	}
	t.Fatalf("-sc %s is not a key of a mounted ConfigMap", sc)
	return "", ""
}

// serverConfig parses the configuration file with the NATS conf parser and
// returns the streaming keys (the streaming block when present).
func serverConfig(t *testing.T, m *manifests) map[string]any {
	t.Helper()
	_, content := configFile(t, m)
	cfg, err := parseConfText(content)
	if err != nil {
		t.Fatalf("config file: %v", err)
	}
	return cfg
}

// parseConfText parses a configuration file with the NATS conf parser and
// returns its streaming keys (the streaming block when present).
func parseConfText(content string) (map[string]any, error) {
	cfg, err := conf.Parse(content)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if s, ok := cfg["streaming"].(map[string]any); ok {
		return s, nil
	}
	return cfg, nil
}

// knownKeys are the configuration keys of SPEC §10.3 stanft implements (the
// out-of-scope ones — cluster, sql, partitioning, encryption — excluded).
var knownKeys = map[string]map[string]bool{
	"": set("id", "cid", "cluster_id", "discover_prefix", "st", "store", "store_type", "storetype",
		"dir", "datastore", "sd", "stan_debug", "sv", "stan_trace", "ns", "nats_server", "nats_server_url",
		"credentials", "secure", "tls", "limits", "store_limits", "storelimits", "file", "file_options",
		"hbi", "hb_interval", "server_to_client_hb_interval", "hbt", "hb_timeout", "server_to_client_hb_timeout",
		"hbf", "hb_fail_count", "server_to_client_hb_fail_count", "ft_group", "ft_group_name", "syslog_name",
		"username", "user", "password", "pass", "token", "nkey_seed_file", "replace_durable", "replace_durables",
		"replace_duplicate_durable", "replace_duplicate_durables"),
	"tls": set("client_cert", "client_key", "client_ca", "client_cacert", "server_name", "server_hostname",
		"skip_verify", "insecure"),
	"limits": set("mc", "max_channels", "maxchannels", "msu", "max_subs", "max_subscriptions", "maxsubscriptions",
		"mm", "max_msgs", "maxmsgs", "max_count", "maxcount", "mb", "max_bytes", "maxbytes", "ma", "max_age", "maxage",
		"mi", "max_inactivity", "maxinactivity", "channels", "channels_limits", "channelslimits", "per_channel",
		"per_channel_limits"),
	"file": set("compact", "compact_enabled", "compact_frag", "compact_fragmentation", "compact_interval",
		"compact_min_size", "buffer_size", "crc", "do_crc", "crc_poly", "sync", "do_sync", "sync_on_flush",
		"slice_max_msgs", "slice_max_count", "slice_msgs", "slice_count", "slice_max_bytes", "slice_max_size",
		"slice_bytes", "slice_size", "slice_max_age", "slice_age", "slice_max_time", "slice_time_limit",
		"slice_archive_script", "slice_archive", "slice_script", "file_descriptors_limit", "fds_limit",
		"parallel_recovery", "file_read_buffer_size", "read_buffer_size", "file_auto_sync", "auto_sync"),
}

var mapSection = map[string]string{
	"tls": "tls", "limits": "limits", "store_limits": "limits", "storelimits": "limits",
	"file": "file", "file_options": "file",
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// checkKeys reports every key the server would ignore (unknown keys are
// silently ignored by the parser, so a typo would go unnoticed).
func checkKeys(cfg map[string]any, section string) []string {
	var bad []string
	for k, v := range cfg {
		lk := strings.ToLower(k)
		if !knownKeys[section][lk] {
			bad = append(bad, section+"."+k)
			continue
		}
		if sub, ok := mapSection[lk]; ok && section == "" {
			if mv, ok := v.(map[string]any); ok {
				bad = append(bad, checkKeys(mv, sub)...)
			}
		}
	}
	return bad
}

func TestConfigKeys(t *testing.T) {
	cfg := serverConfig(t, loadManifests(t))
	if bad := checkKeys(cfg, ""); len(bad) > 0 {
		t.Errorf("configuration keys stanft does not know (they would be ignored): %v", bad)
	}
	// The checker itself catches a typo.
	if bad := checkKeys(map[string]any{"ft_grop": "x", "store_limits": map[string]any{"max_msg": 1}}, ""); len(bad) != 2 {
		t.Errorf("key checker missed typos: %v", bad)
	}
	for key, want := range map[string]string{"store": "file", "ft_group": ""} {
		got, _ := cfg[key].(string)
		if got == "" || (want != "" && !strings.EqualFold(got, want)) {
			t.Errorf("config %s = %q, want %q (an FT group on the FILE store)", key, got, want)
		}
	}
}

// TestArgsAcceptedByBinary runs the real binary with the container's
// arguments and configuration file and -t (parse, validate, exit): every flag
// and value must be accepted.
func TestArgsAcceptedByBinary(t *testing.T) {
	bin := stanft.Path(t)
	m := loadManifests(t)
	_, c := stanftContainer(t, m)
	scPath, content := configFile(t, m)
	local := filepath.Join(t.TempDir(), "stanft.conf")
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = "stanft-0"
	}
	var args []string
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, scPath, local)
		for k, v := range env {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args = append(args, a)
	}
	if strings.Contains(strings.Join(args, " "), "$(") {
		t.Fatalf("args reference undefined env vars: %q", args)
	}
	checkAccepted(t, bin, args)
	// The check fails on a flag the binary does not accept.
	if out, err := runStanft(bin, append(args, "-c="+local, "--no_such_flag=1", "-t")...); err == nil {
		t.Errorf("an unknown flag was accepted: %s", out)
	}
}

// checkAccepted runs `stanft <args> -t` (parse and validate every option,
// then exit) and requires a valid configuration. nats-server's -t needs -c:
// when args have none, -c names the -sc file (the same file then configures
// both, as -sc alone does) or a file holding only the default port.
func checkAccepted(t *testing.T, bin string, args []string) {
	t.Helper()
	args = slices.Clone(args)
	if _, ok := argValue(args, "c", "config"); !ok {
		c, ok := argValue(args, "sc", "stan_config")
		if !ok {
			// The default port: flags given on the command line win anyway.
			c = filepath.Join(t.TempDir(), "nats.conf")
			if err := os.WriteFile(c, []byte("port: 4222\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "-c="+c)
	}
	out, err := runStanft(bin, append(args, "-t")...)
	if err != nil || !strings.Contains(out, "configuration is valid") {
		t.Errorf("stanft %s -t: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runStanft(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestProbePathsServedByBinary runs the binary with the StatefulSet's
// arguments and configuration (ports, datastore and routes made local) and
// checks that the probe paths and the Prometheus path answer 200 on the
// monitoring port.
func TestProbePathsServedByBinary(t *testing.T) {
	bin := stanft.Path(t)
	m := loadManifests(t)
	ss, c := stanftContainer(t, m)
	scPath, content := configFile(t, m)
	dir := t.TempDir()
	local := filepath.Join(dir, "stanft.conf")
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	monitor, client, cluster := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	var args []string
	for _, a := range c.Args {
		switch {
		case strings.HasPrefix(a, "-sc="):
			a = "-sc=" + strings.Replace(a[len("-sc="):], scPath, local, 1)
		case strings.HasPrefix(a, "-m="):
			a = fmt.Sprintf("-m=%d", monitor)
		case strings.HasPrefix(a, "-p="):
			a = fmt.Sprintf("-p=%d", client)
		case strings.HasPrefix(a, "--cluster="):
			a = fmt.Sprintf("--cluster=nats://127.0.0.1:%d", cluster)
		case strings.HasPrefix(a, "--routes="):
			continue // the other members do not exist here
		}
		args = append(args, strings.ReplaceAll(a, "$(POD_NAME)", ss.Name+"-0"))
	}
	args = append(args, "-a=127.0.0.1", "--dir="+filepath.Join(dir, "store"))
	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("stanft %s:\n%s", strings.Join(args, " "), out.String())
		}
	})

	paths := []string{c.StartupProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path,
		ss.Spec.Template.Annotations["prometheus.io/path"]}
	client200 := &http.Client{Timeout: time.Second}
	for _, path := range paths {
		u := fmt.Sprintf("http://127.0.0.1:%d%s", monitor, path)
		var last string
		ok := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(50 * time.Millisecond) {
			select {
			case <-done:
				t.Fatalf("stanft exited before %s answered", path)
			default:
			}
			resp, err := client200.Get(u)
			if err != nil {
				last = err.Error()
				continue
			}
			_ = resp.Body.Close()
			last = resp.Status
			ok = resp.StatusCode == http.StatusOK
		}
		if !ok {
			t.Errorf("GET %s: %s, want 200", u, last)
		}
	}
}
