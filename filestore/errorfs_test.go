package filestore

import (
	"os"
	"strings"
	"sync"
)

// op is a file system operation the injector can fail (pebble errorfs
// style).
type op int

const (
	opWrite op = iota
	opSync
	opTruncate
	opSyncDir
	opRename
	opOpen
	numOps
)

// injectFS wraps a vfs: every operation is counted per kind, and inject (if
// set) may fail it. A failing write may first write part of its data, as a
// full disk does.
type injectFS struct {
	fs vfs

	mu     sync.Mutex
	counts [numOps]int
	writes map[string]int // writes per file base name
	inject func(o op, path string, n int) (fail error, partial bool)
}

func newInjectFS() *injectFS { return &injectFS{fs: osFS{}, writes: map[string]int{}} }

func (f *injectFS) setInjector(fn func(o op, path string, n int) (error, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = fn
}

// count returns how many operations of kind o ran (failed ones included).
func (f *injectFS) count(o op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[o]
}

func (f *injectFS) writesTo(suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for p, c := range f.writes {
		if strings.HasSuffix(p, suffix) {
			n += c
		}
	}
	return n
}

func (f *injectFS) maybe(o op, path string) (error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[o]++
	if o == opWrite {
		f.writes[path]++
	}
	if f.inject == nil {
		return nil, false
	}
	return f.inject(o, path, f.counts[o])
}

func (f *injectFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if err, _ := f.maybe(opOpen, name); err != nil {
		return nil, err
	}
	fl, err := f.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &injectFile{file: fl, fs: f}, nil
}

func (f *injectFS) Remove(name string) error    { return f.fs.Remove(name) }
func (f *injectFS) RemoveAll(name string) error { return f.fs.RemoveAll(name) }
func (f *injectFS) Rename(o, n string) error {
	if err, _ := f.maybe(opRename, n); err != nil {
		return err
	}
	return f.fs.Rename(o, n)
}
func (f *injectFS) MkdirAll(name string, perm os.FileMode) error { return f.fs.MkdirAll(name, perm) }
func (f *injectFS) ReadDir(name string) ([]os.DirEntry, error)   { return f.fs.ReadDir(name) }
func (f *injectFS) Stat(name string) (os.FileInfo, error)        { return f.fs.Stat(name) }
func (f *injectFS) SyncDir(name string) error {
	if err, _ := f.maybe(opSyncDir, name); err != nil {
		return err
	}
	return f.fs.SyncDir(name)
}

type injectFile struct {
	file
	fs *injectFS
}

func (f *injectFile) WriteAt(b []byte, off int64) (int, error) {
	if err, partial := f.fs.maybe(opWrite, f.Name()); err != nil {
		if partial && len(b) > 1 {
			n, _ := f.file.WriteAt(b[:len(b)/2], off)
			return n, err
		}
		return 0, err
	}
	return f.file.WriteAt(b, off)
}

func (f *injectFile) Sync() error {
	if err, _ := f.fs.maybe(opSync, f.Name()); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *injectFile) Truncate(size int64) error {
	if err, _ := f.fs.maybe(opTruncate, f.Name()); err != nil {
		return err
	}
	return f.file.Truncate(size)
}
