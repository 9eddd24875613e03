package deploy

import (
	"os"
	"testing"

	"github.com/stanft/stanft/internal/testenv"
)

// stanft is built once by TestMain: the binary whose flags and endpoints the
// manifests must match.
var stanft testenv.Stanft

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithStanft(m, &stanft))
}
