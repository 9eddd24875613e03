package filestore

import (
	"hash/crc32"
	"testing"
)

func TestFrameCRCEqualsUpdate(t *testing.T) {
	for _, poly := range []uint32{crc32.IEEE, crc32.Castagnoli, crc32.Koopman} {
		tab := crc32.MakeTable(poly)
		for _, typ := range []byte{0, 1, 0x13, 0xff} {
			for _, p := range [][]byte{nil, []byte("x"), []byte("hello world, a longer payload of bytes")} {
				want := crc32.Update(crc32.Update(0, tab, []byte{typ}), tab, p)
				if got := frameCRC(tab, typ, p); got != want {
					t.Fatalf("poly %x typ %d: %x != %x", poly, typ, got, want)
				}
			}
		}
	}
}
