package filestore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// Record framing (see doc.go): len u32 | crc u32 | type u8 | payload.
// len is the payload length (type excluded); crc is the CRC-32 of type and
// payload with the datastore's polynomial.
const frameHeaderSize = 9

// Record types. Each file holds only the types listed for it in doc.go.
const (
	recMsg       byte = 0x01 // msgs.N.dat: a marshalled pb.MsgProto
	recInfo      byte = 0x02 // info.dat: server info
	recClientAdd byte = 0x03 // clients.log: client registration
	recClientDel byte = 0x04 // clients.log: client removal
	recSubState  byte = 0x10 // subs.log: full subscription state
	recSubDel    byte = 0x11 // subs.log: subscription deleted
	recSubSent   byte = 0x12 // subs.log: sequence sent
	recSubAck    byte = 0x13 // subs.log: sequence acknowledged
	recSubMaxID  byte = 0x14 // subs.log: highest subscription ID handed out
	recChanName  byte = 0x20 // meta: channel name
)

// maxRecordSize bounds a record's payload so that a corrupted length field is
// recognised instead of causing a huge allocation.
const maxRecordSize = 1 << 30

var errShortRecord = errors.New("filestore: short record")

// appendFrame appends one framed record to buf.
func appendFrame(buf []byte, tab *crc32.Table, typ byte, payload []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(tab, typ, payload))
	h[8] = typ
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// frameCRC computes the checksum of a record from its type and payload.
func frameCRC(tab *crc32.Table, typ byte, payload []byte) uint32 {
	// The type byte is folded in by hand (the table-driven step that
	// crc32.Update does), which saves an allocation per record.
	c := ^uint32(0)
	c = tab[byte(c)^typ] ^ (c >> 8)
	return crc32.Update(^c, tab, payload)
}

// frameHeader is a decoded record header.
type frameHeader struct {
	size uint32 // payload length
	crc  uint32
	typ  byte
}

func decodeHeader(b []byte) frameHeader {
	return frameHeader{
		size: binary.LittleEndian.Uint32(b[0:4]),
		crc:  binary.LittleEndian.Uint32(b[4:8]),
		typ:  b[8],
	}
}

// Index entries (msgs.N.idx): seq u64 | timestamp i64 | offset u64 |
// size u32 | crc u32, where size is the dat record's payload length, and crc
// the CRC-32 (datastore polynomial) of the first 28 bytes.
const idxEntrySize = 32

type idxEntry struct {
	seq    uint64
	ts     int64
	offset int64 // of the record header in the dat file
	size   uint32
}

// recSize is the size of the whole dat record.
func (e idxEntry) recSize() int64 { return frameHeaderSize + int64(e.size) }

func appendIdx(buf []byte, tab *crc32.Table, e idxEntry) []byte {
	var b [idxEntrySize]byte
	binary.LittleEndian.PutUint64(b[0:8], e.seq)
	binary.LittleEndian.PutUint64(b[8:16], uint64(e.ts))
	binary.LittleEndian.PutUint64(b[16:24], uint64(e.offset))
	binary.LittleEndian.PutUint32(b[24:28], e.size)
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], tab))
	return append(buf, b[:]...)
}

// decodeIdx decodes an index entry; ok is false when its checksum is wrong.
func decodeIdx(b []byte, tab *crc32.Table) (e idxEntry, ok bool) {
	if binary.LittleEndian.Uint32(b[28:32]) != crc32.Checksum(b[:28], tab) {
		return idxEntry{}, false
	}
	return idxEntry{
		seq:    binary.LittleEndian.Uint64(b[0:8]),
		ts:     int64(binary.LittleEndian.Uint64(b[8:16])),
		offset: int64(binary.LittleEndian.Uint64(b[16:24])),
		size:   binary.LittleEndian.Uint32(b[24:28]),
	}, true
}

// enc is a tiny append-only encoder for record payloads: unsigned and signed
// varints and length-prefixed byte strings.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte)   { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)     { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }

// uvarints encodes a payload of unsigned varints only, such as a
// subscription ID and a sequence.
func uvarints(vs ...uint64) []byte {
	var e enc
	for _, v := range vs {
		e.uvarint(v)
	}
	return e.b
}

// dec decodes what enc wrote. The first error sticks; callers check err once.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int32(v)
}

func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) fail() {
	if d.err == nil {
		d.err = errShortRecord
	}
}

// done reports the sticky error, or an error if bytes are left over.
func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("filestore: trailing bytes in record")
	}
	return d.err
}
