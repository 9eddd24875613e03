package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stanft/stanft/drill"
)

var fenced = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")

// codeBlocks returns the fenced code blocks of a markdown file.
func codeBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range fenced.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// commandLines returns the shell lines of the blocks that start with
// prefix, with `\` continuations joined.
func commandLines(blocks []string, prefix string) []string {
	var out []string
	for _, b := range blocks {
		joined := strings.ReplaceAll(b, "\\\n", " ")
		for _, l := range strings.Split(joined, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
	}
	return out
}

// TestReadmeConfigExample checks the README's configuration file example
// is valid for the binary.
func TestReadmeConfigExample(t *testing.T) {
	bin := stanft.Path(t)
	n := 0
	for _, b := range codeBlocks(t, "../README.md") {
		if !strings.Contains(b, "streaming {") {
			continue
		}
		n++
		p := filepath.Join(t.TempDir(), "example.conf")
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		checkAccepted(t, bin, []string{"-sc=" + p, "-c=" + p})
		if cfg, err := parseConfText(b); err != nil {
			t.Errorf("README example: %v", err)
		} else if bad := checkKeys(cfg, ""); len(bad) > 0 {
			t.Errorf("README example has keys stanft ignores: %v", bad)
		}
	}
	if n == 0 {
		t.Fatal("no configuration example (a block with `streaming {`) in README.md")
	}
}

// TestDocumentedDrillCommands checks every `stanft drill` command shown in
// the READMEs parses.
func TestDocumentedDrillCommands(t *testing.T) {
	n := 0
	for _, f := range []string{"../README.md", "README.md"} {
		for _, l := range commandLines(codeBlocks(t, f), "stanft drill ") {
			n++
			args := strings.Fields(strings.TrimPrefix(l, "stanft drill "))
			if _, _, err := drill.ParseArgs(args); err != nil {
				t.Errorf("%s: %q: %v", f, l, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no `stanft drill` command in the READMEs")
	}
}
