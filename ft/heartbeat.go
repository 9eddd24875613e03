package ft

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Beacon carries FT messages between the members of a group (and the
// step-down command). It is a dumb transport: ft encodes and decodes the
// bytes, so strict decoding and the handling of foreign messages live in one
// place. natsbeacon implements it over NATS; fttest in memory.
//
// Contract:
//   - Publish sends one message to every member, including the sender. It
//     does not block on slow receivers. It returns ErrNotConnected (wrapped)
//     when the transport is down; messages are not queued for later.
//   - Flush returns once previously published messages have left this
//     process (or ctx ends). The elector calls it after a step-down notice,
//     before the process may exit.
//   - Messages delivers received payloads in arrival order. It never
//     blocks the transport: when the consumer is slow, messages are dropped
//     (heartbeats repeat; lock polling does not depend on them). The
//     channel is closed by Close.
//   - Connected reports whether the transport can currently send and
//     receive. It is polled, so it must be cheap.
type Beacon interface {
	Publish(ctx context.Context, msg []byte) error
	Flush(ctx context.Context) error
	Messages() <-chan []byte
	Connected() bool
	Close() error
}

// Kind is the type of an FT message.
type Kind uint8

// The message kinds.
const (
	// KindHeartbeat: published every HeartbeatInterval by a Recovering or
	// Active member.
	KindHeartbeat Kind = iota + 1
	// KindStepDownNotice: published by a member after it stood down and
	// released the lock (graceful stop, StepDown, step-down request, NATS
	// loss). Standbys try the lock at once.
	KindStepDownNotice
	// KindStepDownRequest: asks the active member (Target, with Epoch if
	// non-zero) to step down; sent by `stanft ft step-down`.
	KindStepDownRequest
)

var kindNames = [...]string{
	KindHeartbeat:       "heartbeat",
	KindStepDownNotice:  "step-down",
	KindStepDownRequest: "step-down-request",
}

// String returns the wire name of k.
func (k Kind) String() string {
	if k == 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return kindNames[k]
}

// MarshalText encodes k by name.
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("ft: unknown message kind %d", uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes a kind name; unknown names are an error.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if i > 0 && n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("ft: unknown message kind %q", b)
}

// Heartbeat is an FT message: a heartbeat, a step-down notice or a
// step-down request. Wall-clock fields are informational only: no decision
// uses them.
type Heartbeat struct {
	Kind     Kind   `json:"kind"`
	ServerID string `json:"id"` // sender
	// Epoch: the sender's epoch (heartbeat, notice); for a request, the
	// epoch of the active it targets (0 = whatever it is).
	Epoch Epoch `json:"epoch"`
	// State: the sender's state (Recovering or Active for heartbeats,
	// Standby for notices, Standby for requests).
	State State `json:"state"`
	// ActiveSince: when the sender acquired the lock (heartbeats).
	ActiveSince time.Time `json:"since,omitzero"`
	// Target: for a request, the ID of the member asked to step down ("" =
	// the active, whoever it is).
	Target string `json:"target,omitempty"`
	// RequestID correlates a request with the notice of the member that
	// honoured it.
	RequestID string `json:"req,omitempty"`
}

// Wire format: the 6-byte magic "STANFT", one version byte, then a JSON
// object with exactly the fields of Heartbeat. Decoding is strict: unknown
// versions, unknown fields, trailing data, unknown kinds or states, missing
// IDs and oversized messages are rejected.
const (
	wireMagic      = "STANFT"
	wireVersion    = 1
	maxMessageSize = 2048
)

// Encode returns the wire form of h. It fails only for an invalid h.
func (h Heartbeat) Encode() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(wireMagic)
	buf.WriteByte(wireVersion)
	if err := json.NewEncoder(&buf).Encode(h); err != nil {
		return nil, fmt.Errorf("ft: encode %s: %w", h.Kind, err)
	}
	if buf.Len() > maxMessageSize {
		return nil, fmt.Errorf("ft: encode %s: %d bytes, limit %d", h.Kind, buf.Len(), maxMessageSize)
	}
	return buf.Bytes(), nil
}

// DecodeHeartbeat parses a message received on the FT subject. Errors wrap
// ErrForeignMessage for a nats-streaming-server heartbeat and
// ErrMalformedMessage for anything else that is not a valid stanft message.
func DecodeHeartbeat(b []byte) (Heartbeat, error) {
	var h Heartbeat
	if len(b) > maxMessageSize {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedMessage, len(b), maxMessageSize)
	}
	rest, ok := bytes.CutPrefix(b, []byte(wireMagic))
	if !ok {
		if isReferenceHeartbeat(b) {
			return h, ErrForeignMessage
		}
		return h, fmt.Errorf("%w: no stanft magic", ErrMalformedMessage)
	}
	if len(rest) == 0 || rest[0] != wireVersion {
		return h, fmt.Errorf("%w: unsupported version", ErrMalformedMessage)
	}
	dec := json.NewDecoder(bytes.NewReader(rest[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Heartbeat{}, fmt.Errorf("%w: trailing data", ErrMalformedMessage)
	}
	if err := h.validate(); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	return h, nil
}

func (h Heartbeat) validate() error {
	if _, err := h.Kind.MarshalText(); err != nil {
		return err
	}
	if _, err := h.State.MarshalText(); err != nil {
		return err
	}
	if h.ServerID == "" || len(h.ServerID) > maxIDLen {
		return fmt.Errorf("ft: %s: bad server ID length %d", h.Kind, len(h.ServerID))
	}
	if len(h.Target) > maxIDLen || len(h.RequestID) > maxIDLen {
		return fmt.Errorf("ft: %s: target or request ID too long", h.Kind)
	}
	switch h.Kind {
	case KindHeartbeat:
		if h.State != Recovering && h.State != Active {
			return fmt.Errorf("ft: heartbeat with state %s", h.State)
		}
		if h.Epoch == 0 {
			return fmt.Errorf("ft: heartbeat with epoch 0")
		}
	case KindStepDownRequest:
		if h.RequestID == "" {
			return fmt.Errorf("ft: step-down request without request ID")
		}
	}
	return nil
}

// isReferenceHeartbeat recognises the heartbeat of nats-streaming-server:
// a protobuf CtrlMsg whose field 1 (MsgType, varint) is 3 (FTHeartbeat)
// followed by field 2 (ServerID, length-delimited).
func isReferenceHeartbeat(b []byte) bool {
	return len(b) >= 4 && b[0] == 0x08 && b[1] == 0x03 && b[2] == 0x12 && int(b[3]) < 0x80 && len(b) >= 4+int(b[3])
}
