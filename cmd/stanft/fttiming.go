package main

import (
	"fmt"
	"time"
)

// defaultFTTiming returns the FT heartbeat interval and missed interval
// (SPEC §8.3: 1 s and 1.25 s).
func defaultFTTiming() (interval, missed time.Duration) {
	return time.Second, 1250 * time.Millisecond
}

// validateFTTiming checks the FT heartbeat timing (SPEC D6).
func validateFTTiming(interval, missed time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("--ft_hb_interval must be positive, got %v", interval)
	}
	if float64(missed) < 1.1*float64(interval) {
		return fmt.Errorf("--ft_hb_missed_interval (%v) must be at least 1.1 x --ft_hb_interval (%v)", missed, interval)
	}
	return nil
}
