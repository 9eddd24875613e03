package filestore

import (
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
	"github.com/stanft/stanft/store/storetest"
)

// testLogger logs through t, so output shows only for failing tests.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: tWriter{t}})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tWriter{}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Logger = testLogger(t)
	return cfg
}

func openTest(t testing.TB, dir string, cfg Config) *Store {
	t.Helper()
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// dirOf maps stores handed to the suite to their directory.
func TestConformance(t *testing.T) {
	factory := func(t *testing.T, limits store.Limits) store.Store {
		cfg := testConfig(t)
		cfg.Limits = limits
		s := openTest(t, t.TempDir(), cfg)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	reopen := func(t *testing.T, st store.Store, limits store.Limits) store.Store {
		s := st.(*Store)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		cfg := testConfig(t)
		cfg.Limits = limits
		s2 := openTest(t, s.Dir(), cfg)
		t.Cleanup(func() { _ = s2.Close() })
		return s2
	}
	storetest.Run(t, factory, storetest.Caps{Persistent: true, Reopen: reopen})
}
