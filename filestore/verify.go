package filestore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
)

// Problem is one finding of Verify.
type Problem struct {
	File   string
	Offset int64
	// Fatal problems stop a server from starting; the others are repaired
	// automatically at the next start.
	Fatal  bool
	What   string
	Action string
}

func (p Problem) String() string {
	sev := "repairable"
	if p.Fatal {
		sev = "FATAL"
	}
	return fmt.Sprintf("%s: %s at offset %d: %s; %s", sev, p.File, p.Offset, p.What, p.Action)
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Dir       string
	ClusterID string // "" for a fresh datastore
	Clients   int
	Channels  int
	Messages  int64
	Problems  []Problem
}

// Healthy reports whether the datastore has no fatal problem.
func (r *VerifyReport) Healthy() bool {
	for _, p := range r.Problems {
		if p.Fatal {
			return false
		}
	}
	return true
}

// String renders the report for operators.
func (r *VerifyReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "datastore %s: cluster %q, %d client(s), %d channel(s), %d message(s)\n",
		r.Dir, r.ClusterID, r.Clients, r.Channels, r.Messages)
	if len(r.Problems) == 0 {
		b.WriteString("healthy\n")
		return b.String()
	}
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	if r.Healthy() {
		b.WriteString("healthy (the problems above are repaired at the next start)\n")
	} else {
		b.WriteString("NOT healthy: a server will refuse to start on this datastore\n")
	}
	return b.String()
}

// Verify checks every file of the datastore in dir without modifying
// anything (it opens files read-only and takes no lock; run it on a stopped
// datastore or accept a report of the moment). It returns an error only
// when the directory cannot be read or is not a stanft datastore.
func Verify(dir string, cfg Config) (*VerifyReport, error) {
	s, err := openReadOnly(dir, cfg)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Dir: dir}
	r := &recoverer{s: s, fix: false}
	fatal := func(err error) error {
		var ce *CorruptionError
		if errors.As(err, &ce) {
			action := "restore the datastore from a backup, or move the damaged file aside accepting the loss of its data"
			if cuttable(s.fs, ce.File) {
				action = "restore the datastore from a backup, or start once with --file_truncate_bad_eof " +
					"to cut this file at this offset, losing what follows (saved to a .broken file)"
			}
			r.problem(Problem{File: ce.File, Offset: ce.Offset, Fatal: true, What: ce.Err.Error(), Action: action})
			return nil
		}
		return err
	}
	info, err := r.info()
	if err = fatal(err); err != nil {
		return nil, err
	}
	if info != nil {
		rep.ClusterID = info.ClusterID
	}
	if err := fatal(r.clients()); err != nil {
		return nil, err
	}
	rep.Clients = len(s.clients.clients)
	dirs, err := r.channelDirs()
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		ch, err := r.channel(d)
		if err = fatal(err); err != nil {
			return nil, err
		}
		if ch != nil {
			rep.Channels++
			for _, sl := range ch.msgs.slices {
				_ = sl.closeFiles()
			}
		}
	}
	if info == nil && (len(dirs) > 0 || rep.Clients > 0) {
		r.problem(Problem{File: filepath.Join(dir, infoFile), Fatal: true, What: errMissingInfo.Error(),
			Action: "restore the datastore from a backup"})
	}
	rep.Messages = r.msgs.Load()
	rep.Problems = r.problems
	sortProblems(rep.Problems)
	return rep, nil
}

// cuttable reports whether Config.TruncateBadEOF applies to path: subs.log,
// clients.log, or the newest slice of a channel.
func cuttable(fsys vfs, path string) bool {
	base := filepath.Base(path)
	if base == subsFile || base == clientsFile {
		return true
	}
	n, ext, ok := parseSliceName(base)
	if !ok || ext != "dat" {
		return false
	}
	ents, err := fsys.ReadDir(filepath.Dir(path))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if m, _, ok := parseSliceName(e.Name()); ok && m > n {
			return false
		}
	}
	return true
}

// openReadOnly builds a Store for reading dir without creating anything.
func openReadOnly(dir string, cfg Config) (*Store, error) {
	fsys := cfg.fs
	if fsys == nil {
		fsys = osFS{}
	}
	if _, err := fsys.Stat(dir); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := detectForeign(fsys, dir); err != nil {
		return nil, err
	}
	poly := uint32(DefaultCRCPoly)
	b, err := readFile(fsys, filepath.Join(dir, markerFile))
	switch {
	case err == nil:
		if poly, err = parseMarker(b); err != nil {
			return nil, fmt.Errorf("filestore: %s: %w", filepath.Join(dir, markerFile), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("filestore: read marker: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg.DoCRC = true
	if cfg.ParallelRecovery <= 0 {
		cfg.ParallelRecovery = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &Store{
		scriptCtx:    ctx,
		scriptCancel: cancel,
		dir:          dir,
		cfg:          cfg,
		fs:           fsys,
		log:          log.Named("filestore"),
		tab:          crc32.MakeTable(poly),
		metrics:      noopMetrics{},
		limits:       cfg.Limits.Clone(),
		channels:     make(map[string]*channel),
		ctx:          ctx,
		cancel:       cancel,
	}
	s.clients = newClientLog(s)
	return s, nil
}

// ReadServerInfo reads the server info of the datastore in dir, read-only
// and without a lock (a standby uses it to detect a cluster ID mismatch
// before it may take over). It returns an error wrapping store.ErrNotFound
// for a fresh (or missing) datastore.
func ReadServerInfo(dir string) (*store.ServerInfo, error) {
	s, err := openReadOnly(dir, DefaultConfig())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filestore: %s: %w", dir, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	r := &recoverer{s: s}
	info, err := r.info()
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, fmt.Errorf("filestore: no server info in %s: %w", dir, store.ErrNotFound)
	}
	return info, nil
}
