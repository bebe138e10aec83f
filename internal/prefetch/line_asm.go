//go:build amd64 || arm64

package prefetch

// line issues a prefetch of the cache line holding addr.
//
//go:noescape
func line(addr uintptr)
