// Package prefetch asks the CPU to start loading memory into its caches
// and goes on at once: a prefetch never waits for the memory, never faults
// and changes nothing. A loop that will touch many scattered addresses
// prefetches them all first, so that their cache misses overlap.
package prefetch

import "unsafe"

// At hints that the cache line holding *p will be read soon.
func At[T any](p *T) {
	line(uintptr(unsafe.Pointer(p)))
}
