package main

import (
	"fmt"
	"time"

	"github.com/stanft/stanft/ft"
)

// defaultFTTiming returns the default FT heartbeat interval and missed
// interval: ft.DefaultConfig's.
func defaultFTTiming() (interval, missed time.Duration) {
	c := ft.DefaultConfig()
	return c.HeartbeatInterval, c.MissedHeartbeatTimeout
}

// validateFTTiming checks the FT heartbeat timing (SPEC D6: missed ≥ 1.1 ×
// interval).
func validateFTTiming(interval, missed time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("--ft_hb_interval must be positive, got %v", interval)
	}
	if float64(missed) < 1.1*float64(interval) {
		return fmt.Errorf("--ft_hb_missed_interval (%v) must be at least 1.1 x --ft_hb_interval (%v)", missed, interval)
	}
	return nil
}
