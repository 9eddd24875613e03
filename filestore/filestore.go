package filestore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
)

// slowFsync is the fsync duration above which a warning is logged.
const slowFsync = time.Second

// Store is the FILE store: a directory holding the server info, the client
// registry and one directory per channel. See doc.go for the format and the
// durability rules.
type Store struct {
	dir     string
	cfg     Config
	fs      vfs
	log     hclog.Logger
	tab     *crc32.Table
	metrics Metrics
	limits  store.Limits

	fenceMu  sync.Mutex
	fenceErr error // sticky once Config.Fence failed

	mu        sync.Mutex
	closed    bool
	recovered bool
	info      *store.ServerInfo
	clients   *clientLog
	channels  map[string]*channel

	ctx    context.Context // cancelled by Close; stops background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // the background goroutine

	scriptCtx    context.Context // cancelled by Close if scripts run too long
	scriptCancel context.CancelFunc
	scripts      sync.WaitGroup // archive scripts
}

// scriptGrace is how long Close waits for running archive scripts before
// killing them.
const scriptGrace = 30 * time.Second

var _ store.Store = (*Store)(nil)

// channel is one channel's pair of stores.
type channel struct {
	name string
	dir  string
	msgs *msgStore
	subs *subStore
	pub  *store.Channel
}

// Open opens (creating it if needed) the datastore in dir. It does not
// recover: call Recover before any write. It refuses a directory written by
// nats-streaming-server (ErrForeignDatastore). Open takes no lock: package
// ft guards the directory.
func Open(dir string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fsys := cfg.fs
	if fsys == nil {
		fsys = osFS{}
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	var m Metrics = noopMetrics{}
	if cfg.Metrics != nil {
		m = cfg.Metrics
	}
	if err := detectForeign(fsys, dir); err != nil {
		return nil, err
	}
	if err := fsys.MkdirAll(filepath.Join(dir, channelsDir), 0o750); err != nil {
		return nil, fmt.Errorf("filestore: create %s: %w", dir, err)
	}
	poly, err := openMarker(fsys, dir, uint32(cfg.CRCPoly))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sctx, scancel := context.WithCancel(context.Background())
	s := &Store{
		scriptCtx:    sctx,
		scriptCancel: scancel,
		dir:          dir,
		cfg:          cfg,
		fs:           fsys,
		log:          log.Named("filestore"),
		tab:          crc32.MakeTable(poly),
		metrics:      m,
		limits:       cfg.Limits.Clone(),
		channels:     make(map[string]*channel),
		ctx:          ctx,
		cancel:       cancel,
	}
	s.clients = newClientLog(s)
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// openMarker reads the marker file, or writes it for a new datastore, and
// returns the datastore's CRC polynomial.
func openMarker(fsys vfs, dir string, poly uint32) (uint32, error) {
	p := filepath.Join(dir, markerFile)
	b, err := readFile(fsys, p)
	switch {
	case err == nil:
		got, err := parseMarker(b)
		if err != nil {
			return 0, fmt.Errorf("filestore: %s: %w", p, err)
		}
		return got, nil
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFileAtomic(fsys, p, markerContent(poly)); err != nil {
			return 0, err
		}
		return poly, nil
	default:
		return 0, fmt.Errorf("filestore: read %s: %w", p, err)
	}
}

// Type returns store.TypeFile.
func (s *Store) Type() string { return store.TypeFile }

// Dir returns the datastore directory.
func (s *Store) Dir() string { return s.dir }

// Limits returns a copy of the store's limits.
func (s *Store) Limits() store.Limits { return s.limits.Clone() }

// fence runs Config.Fence; once it failed, it fails forever.
func (s *Store) fence() error {
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if s.fenceErr != nil {
		return s.fenceErr
	}
	if s.cfg.Fence == nil {
		return nil
	}
	if err := s.cfg.Fence(); err != nil {
		s.fenceErr = fmt.Errorf("%w: %w", ErrFenced, err)
		s.log.Error("fence check failed: refusing all further writes", "error", err)
		return s.fenceErr
	}
	return nil
}

// fenced returns the sticky fence error, without calling Fence.
func (s *Store) fenced() error {
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	return s.fenceErr
}

// syncFiles fsyncs files (then dirs) as one batch, recording its latency.
func (s *Store) syncFiles(files []file, dirs []string) error {
	if len(files) == 0 && len(dirs) == 0 {
		return nil
	}
	start := time.Now()
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("filestore: fsync %s: %w", f.Name(), err)
		}
	}
	for _, d := range dirs {
		if err := s.fs.SyncDir(d); err != nil {
			return fmt.Errorf("filestore: fsync dir %s: %w", d, err)
		}
	}
	d := time.Since(start)
	s.metrics.FsyncLatency(d, len(files)+len(dirs))
	if d > slowFsync {
		s.log.Warn("slow fsync", "took", d, "files", len(files)+len(dirs))
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Init persists the server info; durable on return.
func (s *Store) Init(info *store.ServerInfo) error {
	if info == nil {
		return errors.New("filestore: init: nil server info")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.fence(); err != nil {
		return fmt.Errorf("filestore: init: %w", err)
	}
	data := appendFrame(nil, s.tab, recInfo, encodeInfo(info))
	if err := writeFileAtomic(s.fs, filepath.Join(s.dir, infoFile), data); err != nil {
		return err
	}
	c := *info
	s.info = &c
	return nil
}

// AddClient persists a client registration; durable on return.
func (s *Store) AddClient(c *store.Client) error {
	if c == nil {
		return errors.New("filestore: add client: nil client")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.clients.add(c)
}

// DeleteClient removes a client registration. It is written at once but
// made durable by the next fsync (SPEC §7.3: "eventually").
func (s *Store) DeleteClient(clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.clients.remove(clientID)
}

// CreateChannel creates a channel's directory and stores. The directory and
// its meta file are durable on return.
func (s *Store) CreateChannel(name string) (*store.Channel, error) {
	if !store.IsChannelNameValid(name, false) {
		return nil, fmt.Errorf("filestore: create channel: invalid name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if _, ok := s.channels[name]; ok {
		return nil, store.ErrAlreadyExists
	}
	if s.limits.MaxChannels > 0 && len(s.channels) >= s.limits.MaxChannels {
		return nil, store.ErrTooManyChannels
	}
	if err := s.fence(); err != nil {
		return nil, fmt.Errorf("filestore: create channel %q: %w", name, err)
	}
	dir := filepath.Join(s.dir, channelsDir, channelDirName(name))
	if _, err := s.fs.Stat(dir); err == nil {
		// On disk but not recovered: never overwrite it.
		return nil, fmt.Errorf("filestore: create channel %q: %s exists (call Recover first): %w",
			name, dir, store.ErrAlreadyExists)
	}
	if err := s.fs.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("filestore: create channel %q: %w", name, err)
	}
	var e enc
	e.str(name)
	if err := writeFileAtomic(s.fs, filepath.Join(dir, metaFile), appendFrame(nil, s.tab, recChanName, e.b)); err != nil {
		_ = s.fs.RemoveAll(dir)
		return nil, err
	}
	if err := s.fs.SyncDir(filepath.Join(s.dir, channelsDir)); err != nil {
		return nil, fmt.Errorf("filestore: create channel %q: fsync: %w", name, err)
	}
	ch := s.newChannel(name, dir)
	s.channels[name] = ch
	return ch.pub, nil
}

func (s *Store) newChannel(name, dir string) *channel {
	lim := s.limits.ForChannel(name)
	ch := &channel{name: name, dir: dir}
	ch.subs = newSubStore(s, ch, lim)
	ch.msgs = newMsgStore(s, ch, lim)
	ch.pub = &store.Channel{Msgs: ch.msgs, Subs: ch.subs}
	return ch
}

// DeleteChannel closes a channel and removes its files: the directory is
// first renamed aside (so a crash never leaves half a channel), then removed.
func (s *Store) DeleteChannel(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	ch, ok := s.channels[name]
	if !ok {
		return fmt.Errorf("filestore: delete channel %q: %w", name, store.ErrNotFound)
	}
	if err := s.fence(); err != nil {
		return fmt.Errorf("filestore: delete channel %q: %w", name, err)
	}
	delete(s.channels, name)
	_ = ch.msgs.close(false)
	_ = ch.subs.close(false)
	parent := filepath.Join(s.dir, channelsDir)
	aside := filepath.Join(parent, deletedPfx+filepath.Base(ch.dir))
	if err := s.fs.Rename(ch.dir, aside); err != nil {
		return fmt.Errorf("filestore: delete channel %q: %w", name, err)
	}
	if err := s.fs.SyncDir(parent); err != nil {
		return fmt.Errorf("filestore: delete channel %q: %w", name, err)
	}
	if err := s.fs.RemoveAll(aside); err != nil {
		return fmt.Errorf("filestore: delete channel %q: %w", name, err)
	}
	return nil
}

// Close flushes (and fsyncs) every file, stops background work and closes
// the store. Further calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	chans := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		chans = append(chans, ch)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.waitScripts()
	var errs []error
	for _, ch := range chans {
		errs = append(errs, ch.msgs.close(true), ch.subs.close(true))
	}
	s.mu.Lock()
	errs = append(errs, s.clients.close())
	s.mu.Unlock()
	return errors.Join(errs...)
}

// channelList returns the open channels (for background work).
func (s *Store) channelList() []*channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch)
	}
	return out
}

// background runs expiry (MaxAge), auto-sync, compaction checks, buffer
// release and the soft FD limit, once a second, until Close.
func (s *Store) background() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			doSync := s.cfg.AutoSync > 0 && now.Sub(lastSync) >= s.cfg.AutoSync
			if doSync {
				lastSync = now
			}
			s.tick(now, doSync)
		}
	}
}

func (s *Store) tick(now time.Time, doSync bool) {
	chans := s.channelList()
	openOld := 0
	for _, ch := range chans {
		if s.ctx.Err() != nil {
			return
		}
		if err := ch.msgs.expire(now); err != nil {
			s.log.Error("expiring messages failed", "channel", ch.name, "error", err)
		}
		ch.msgs.releaseIdle(now)
		if doSync {
			if err := ch.msgs.syncAll(); err != nil && !errors.Is(err, store.ErrClosed) {
				s.log.Error("auto-sync failed", "channel", ch.name, "error", err)
			}
			if err := ch.subs.sync(); err != nil && !errors.Is(err, store.ErrClosed) {
				s.log.Error("auto-sync failed", "channel", ch.name, "error", err)
			}
		}
		openOld += ch.msgs.openOldSlices()
	}
	if s.cfg.FDsLimit > 0 && int64(openOld) > s.cfg.FDsLimit/2 {
		// Each old slice holds two files: close them all, oldest channels
		// first; they are reopened on demand.
		for _, ch := range chans {
			ch.msgs.closeOldSlices()
		}
	}
	if doSync {
		s.mu.Lock()
		if !s.closed {
			if err := s.clients.sync(); err != nil {
				s.log.Error("auto-sync of clients failed", "error", err)
			}
		}
		s.mu.Unlock()
	}
}

// runArchiveScript runs SliceArchiveScript for a removed slice, in the
// background; Close waits for it (and cancels it).
func (s *Store) runArchiveScript(channelName, dat, idx string) {
	s.scripts.Add(1)
	go func() {
		defer s.scripts.Done()
		if err := runScript(s.scriptCtx, s.cfg.SliceArchiveScript, channelName, dat, idx); err != nil {
			s.log.Error("slice archive script failed", "script", s.cfg.SliceArchiveScript,
				"channel", channelName, "dat", dat, "idx", idx, "error", err)
		}
	}()
}

// waitScripts waits for archive scripts, killing them after scriptGrace.
func (s *Store) waitScripts() {
	done := make(chan struct{})
	go func() { s.scripts.Wait(); close(done) }()
	t := time.NewTimer(scriptGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("archive scripts still running at close: killing them", "after", scriptGrace)
		s.scriptCancel()
		<-done
	}
	s.scriptCancel()
}

// openRW opens (creating) a file for reading and appending at offset.
func (s *Store) openRW(path string) (file, error) {
	f, err := s.fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("filestore: open %s: %w", path, err)
	}
	return f, nil
}
