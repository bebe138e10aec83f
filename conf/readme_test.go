package conf

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestReadmeKeyTable checks that the README's configuration table has one
// row per key dosguard reads (Keys) and no other.
func TestReadmeKeyTable(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// A row names one key, or several separated by commas: | `A`, `B` | ...
	row := regexp.MustCompile("(?m)^\\| (`[A-Za-z0-9_]+`(?:, `[A-Za-z0-9_]+`)*) \\|")
	name := regexp.MustCompile("`([A-Za-z0-9_]+)`")
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			got = append(got, n[1])
		}
	}
	want := slices.Clone(Keys)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("README key table rows (sorted) =\n%q\nwant conf.Keys\n%q", got, want)
	}
}
