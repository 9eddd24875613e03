package filestore

import (
	"context"
	"fmt"
	"os/exec"
)

func runScript(ctx context.Context, script string, args ...string) error {
	out, err := exec.CommandContext(ctx, script, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w (output: %q)", err, out)
	}
	return nil
}
