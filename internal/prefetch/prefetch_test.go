package prefetch

import "testing"

// TestAtChangesNothing prefetches every byte and word of two arrays,
// including the last byte of each: their contents are unchanged and
// nothing is allocated.
func TestAtChangesNothing(t *testing.T) {
	var b [4096]byte
	var w [512]uint64
	for i := range b {
		b[i] = byte(i * 7)
	}
	for i := range w {
		w[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	allocs := testing.AllocsPerRun(3, func() {
		for i := range b {
			At(&b[i])
		}
		for i := range w {
			At(&w[i])
		}
	})
	if allocs != 0 {
		t.Errorf("At: %v allocations, want 0", allocs)
	}
	for i := range b {
		if b[i] != byte(i*7) {
			t.Fatalf("b[%d] = %d after At, want %d", i, b[i], byte(i*7))
		}
	}
	for i := range w {
		if w[i] != uint64(i)*0x9e3779b97f4a7c15 {
			t.Fatalf("w[%d] changed after At", i)
		}
	}
}

// BenchmarkAt is the cost of one prefetch of a line already in the cache:
// what a hint costs when it was not needed.
func BenchmarkAt(b *testing.B) {
	var x [64]uint64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		At(&x[i&63])
		i++
	}
}
