package server

import "errors"

// Allocation-free decoding and encoding of the two hot-path messages,
// PubMsg and Ack, and encoding of PubAck. They follow the protobuf wire
// format of stan.go/pb (proto3: unknown fields are skipped). Decoded byte
// slices alias the input, which must not be reused (nats.go hands every
// callback a freshly allocated Msg.Data).

var errWire = errors.New("server: malformed protobuf")

// pubFields are the fields of a PubMsg (SPEC §3), aliasing the payload.
type pubFields struct {
	clientID, guid, subject, reply, data, connID []byte
}

func readVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// walk calls f for every field of a protobuf message. For length-delimited
// fields val is the content; for varints num holds the value.
func walk(b []byte, f func(field uint64, wire uint64, num uint64, val []byte)) error {
	for len(b) > 0 {
		key, n := readVarint(b)
		if n == 0 {
			return errWire
		}
		b = b[n:]
		field, wire := key>>3, key&7
		if field == 0 {
			return errWire
		}
		switch wire {
		case 0:
			v, n := readVarint(b)
			if n == 0 {
				return errWire
			}
			b = b[n:]
			f(field, wire, v, nil)
		case 1:
			if len(b) < 8 {
				return errWire
			}
			b = b[8:]
		case 2:
			l, n := readVarint(b)
			if n == 0 || l > uint64(len(b)-n) {
				return errWire
			}
			val := b[n : n+int(l)]
			b = b[n+int(l):]
			f(field, wire, 0, val)
		case 5:
			if len(b) < 4 {
				return errWire
			}
			b = b[4:]
		default:
			return errWire
		}
	}
	return nil
}

func parsePubMsg(b []byte, p *pubFields) error {
	var wrongType bool
	err := walk(b, func(field, wire, _ uint64, val []byte) {
		if (field <= 6 || field == 10) && wire != 2 {
			wrongType = true
			return
		}
		switch field {
		case 1:
			p.clientID = val
		case 2:
			p.guid = val
		case 3:
			p.subject = val
		case 4:
			p.reply = val
		case 5:
			p.data = val
		case 6:
			p.connID = val
		}
	})
	if err == nil && wrongType {
		err = errWire
	}
	return err
}

// isCtrlMsg reports whether b decodes as the reference server's legacy
// control message (CtrlMsg{MsgType varint = 1, ServerID string = 2, Data
// bytes = 3}): a publish payload that does not decode as a PubMsg but as
// this is dropped without a PubAck (SPEC §3 step 1).
func isCtrlMsg(b []byte) bool {
	ok := true
	err := walk(b, func(field, wire, _ uint64, _ []byte) {
		switch field {
		case 1:
			ok = ok && wire == 0
		case 2, 3:
			ok = ok && wire == 2
		}
	})
	return err == nil && ok
}

// parseAck decodes an Ack{subject, sequence}.
func parseAck(b []byte) (subject []byte, seq uint64, err error) {
	var wrongType bool
	err = walk(b, func(field, wire, num uint64, val []byte) {
		switch field {
		case 1:
			if wire != 2 {
				wrongType = true
			}
			subject = val
		case 2:
			if wire != 0 {
				wrongType = true
			}
			seq = num
		}
	})
	if err == nil && wrongType {
		err = errWire
	}
	return subject, seq, err
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendPubAck encodes PubAck{guid, error} (fields 1 and 2).
func appendPubAck(b []byte, guid []byte, errText string) []byte {
	if len(guid) > 0 {
		b = append(b, 0x0a)
		b = appendVarint(b, uint64(len(guid)))
		b = append(b, guid...)
	}
	if errText != "" {
		b = append(b, 0x12)
		b = appendVarint(b, uint64(len(errText)))
		b = append(b, errText...)
	}
	return b
}
