package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// File and directory names (see doc.go).
const (
	markerFile   = "stanft-store"
	infoFile     = "info.dat"
	clientsFile  = "clients.log"
	channelsDir  = "channels"
	metaFile     = "meta"
	subsFile     = "subs.log"
	brokenSuffix = ".broken"
	bakSuffix    = ".bak"
	deletedPfx   = ".del."
	ftPrefix     = "stanft." // files of package ft, never touched here
	// truncWitness marks a datastore last opened with TruncateBadEOF.
	truncWitness = "truncate_bad_eof.witness"
	formatV1     = 1
)

// channelDirName maps a channel name to its directory name: bytes outside
// [A-Za-z0-9_.-] (and a leading '.') are written %XX; names whose escaped
// form is longer than 200 bytes use "~" and a SHA-256 prefix instead. The
// real name is always read back from the directory's meta file.
func channelDirName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || (c == '.' && i > 0)
		if safe {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() > 200 {
		sum := sha256.Sum256([]byte(name))
		return "~" + hex.EncodeToString(sum[:20])
	}
	return b.String()
}

func sliceDatName(n int) string { return fmt.Sprintf("msgs.%d.dat", n) }
func sliceIdxName(n int) string { return fmt.Sprintf("msgs.%d.idx", n) }

// parseSliceName returns the slice number of "msgs.N.dat" / "msgs.N.idx".
func parseSliceName(name string) (n int, ext string, ok bool) {
	rest, found := strings.CutPrefix(name, "msgs.")
	if !found {
		return 0, "", false
	}
	num, ext, found := strings.Cut(rest, ".")
	if !found || (ext != "dat" && ext != "idx") {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || strconv.Itoa(n) != num {
		return 0, "", false
	}
	return n, ext, true
}

func markerContent(poly uint32) []byte {
	return fmt.Appendf(nil, "stanft-store\nformat %d\ncrc-poly %d\n", formatV1, poly)
}

// parseMarker returns the CRC polynomial recorded in the marker file.
func parseMarker(b []byte) (uint32, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "stanft-store" {
		return 0, fmt.Errorf("%w: bad marker file", ErrUnknownFormat)
	}
	if lines[1] != fmt.Sprintf("format %d", formatV1) {
		return 0, fmt.Errorf("%w: %q (this stanft reads format %d)", ErrUnknownFormat, lines[1], formatV1)
	}
	p, found := strings.CutPrefix(lines[2], "crc-poly ")
	if !found {
		return 0, fmt.Errorf("%w: bad marker file", ErrUnknownFormat)
	}
	poly, err := strconv.ParseUint(p, 10, 32)
	if err != nil || poly == 0 {
		return 0, fmt.Errorf("%w: bad crc polynomial %q", ErrUnknownFormat, p)
	}
	return uint32(poly), nil
}

// detectForeign refuses a directory written by nats-streaming-server: its
// top level holds server.dat / clients.dat, and its channel directories
// (directly under the root) hold subs.dat and msgs.N.dat files.
func detectForeign(fsys vfs, dir string) error {
	for _, name := range []string{"server.dat", "clients.dat"} {
		if _, err := fsys.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%w: found %s (SPEC D4: start stanft on an empty directory)",
				ErrForeignDatastore, filepath.Join(dir, name))
		}
	}
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("filestore: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == channelsDir || strings.HasPrefix(e.Name(), ftPrefix) {
			continue
		}
		p := filepath.Join(dir, e.Name(), "subs.dat")
		if _, err := fsys.Stat(p); err == nil {
			return fmt.Errorf("%w: found %s (SPEC D4: start stanft on an empty directory)", ErrForeignDatastore, p)
		}
	}
	return nil
}
