package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Built once by TestMain: the binary whose flags and endpoints the manifests
// must match.
var (
	stanftBin string
	stanftErr error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stanft-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	stanftBin = filepath.Join(dir, "stanft")
	cmd := exec.Command("go", "build", "-o", stanftBin, "github.com/stanft/stanft/cmd/stanft")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		stanftErr = fmt.Errorf("go build ./cmd/stanft: %w\n%s", err, out)
	}
	return m.Run()
}

// stanftBinary returns the built binary or fails the test.
func stanftBinary(t *testing.T) string {
	t.Helper()
	if stanftErr != nil {
		t.Fatal(stanftErr)
	}
	return stanftBin
}
