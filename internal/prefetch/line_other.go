//go:build !amd64 && !arm64

package prefetch

// line does nothing where the package has no prefetch instruction.
func line(uintptr) {}
