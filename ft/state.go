package ft

import "fmt"

// State is the elector's role. The legal moves are:
//
//	Standby    → Acquiring, Stopped
//	Acquiring  → Standby (lock held elsewhere or attempt failed),
//	             Recovering (lock acquired), Stopped (fatal lock error)
//	Recovering → Active (OnPromote returned nil), Demoting
//	Active     → Demoting
//	Demoting   → Standby (step-down, lost NATS), Stopped (shutdown, fenced,
//	             promotion failed)
//	Stopped    → (final)
//
// Everything up to Active is reversible: Recovering can always demote.
type State int32

// The states, in promotion order.
const (
	Standby State = iota
	Acquiring
	Recovering
	Active
	Demoting
	Stopped
)

var stateNames = [...]string{
	Standby:    "standby",
	Acquiring:  "acquiring",
	Recovering: "recovering",
	Active:     "active",
	Demoting:   "demoting",
	Stopped:    "stopped",
}

// String returns the lower-case name used in logs, metrics and heartbeats.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int32(s))
	}
	return stateNames[s]
}

// MarshalText encodes s by name.
func (s State) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("ft: unknown state %d", int32(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name; unknown names are an error.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("ft: unknown state %q", b)
}

// Serving reports whether s is a state in which this member holds the lock
// and may write the datastore (Recovering, Active, Demoting).
func (s State) Serving() bool { return s == Recovering || s == Active || s == Demoting }

// transitions is the one legal-transition table; Elector.transition is the
// only place that changes state and it consults this table.
var transitions = map[State][]State{
	Standby:    {Acquiring, Stopped},
	Acquiring:  {Standby, Recovering, Stopped},
	Recovering: {Active, Demoting},
	Active:     {Demoting},
	Demoting:   {Standby, Stopped},
}

func legal(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanTransitionTo reports whether s → to is a legal transition.
func (s State) CanTransitionTo(to State) bool { return legal(s, to) }
