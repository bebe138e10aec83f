//go:build !race

package detector

// raceEnabled is true under the race detector, which makes the big spray
// tests ten times slower: they run fewer cases.
const raceEnabled = false
