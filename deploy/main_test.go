package deploy

import (
	"fmt"
	"os"
	"testing"

	"github.com/stanft/stanft/internal/testenv"
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
	stanftBin, stanftErr = testenv.BuildStanft(dir)
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
