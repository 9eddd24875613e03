package deploy

import (
	"os"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Command []string `json:"command"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

// TestComposeArgsAcceptedByBinary checks every service of the root
// docker-compose.yml passes arguments the binary accepts, and that all
// members share the one datastore volume. (e2e/compose_test.go runs the pair.)
func TestComposeArgsAcceptedByBinary(t *testing.T) {
	bin := stanft.Path(t)
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(cf.Services) < 2 {
		t.Fatalf("want an FT pair, got %d services", len(cf.Services))
	}
	if len(cf.Volumes) != 1 {
		t.Errorf("want one shared datastore volume, got %d", len(cf.Volumes))
	}
	names := make([]string, 0, len(cf.Services))
	for n := range cf.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	group := ""
	for _, n := range names {
		args := cf.Services[n].Command
		g, ok := argValue(args, "ft_group")
		if !ok || (group != "" && g != group) {
			t.Errorf("service %s: --ft_group %q, want one group for all", n, g)
		}
		group = g
		if d, _ := argValue(args, "dir"); d != "/data/store" {
			t.Errorf("service %s: --dir %q, want /data/store on the shared volume", n, d)
		}
		checkAccepted(t, bin, args)
	}
}
