package main

import (
	"flag"
	"io"
	"regexp"
	"sort"
	"testing"
)

// TestUsageListsEveryFlag: -h names every flag the command line accepts,
// except the ones SPEC §10.1 keeps out of the reference's -h
// (--io_batch_size, --io_sleep_time). The rejected out-of-scope ones (D1)
// are named too, in their own section.
func TestUsageListsEveryFlag(t *testing.T) {
	p, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	hidden := map[string]bool{"io_batch_size": true, "io_sleep_time": true}
	var missing []string
	p.fs.VisitAll(func(f *flag.Flag) {
		if hidden[f.Name] {
			return
		}
		re := regexp.MustCompile(`(^|[\s,/])--?` + regexp.QuoteMeta(f.Name) + `($|[\s,=<\[])`)
		if !re.MatchString(usageText) {
			missing = append(missing, f.Name)
		}
	})
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("-h does not list: %v", missing)
	}
}
