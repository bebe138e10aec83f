package main

import "testing"

// TestRecovered: a panic inside an export becomes its error code.
func TestRecovered(t *testing.T) {
	rc := func() (rc int) {
		defer recovered("flush", &rc, 0)
		var m map[string]int
		m["boom"]++ // panics: assignment to entry in nil map
		return 1
	}()
	if rc != 0 {
		t.Errorf("rc after a panic = %d, want 0 (FLB_ERROR)", rc)
	}
}
