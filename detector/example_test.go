package detector_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/detector"
)

func Example() {
	d, err := detector.New(detector.Config{Window: time.Minute, Threshold: 3})
	if err != nil {
		panic(err)
	}
	ex, err := detector.NewExemptions(detector.ExemptionsConfig{})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	records := []struct {
		at   time.Duration
		host string
	}{
		{0, "54.199.254.150"},
		{1 * time.Second, "10.0.0.7"},
		{2 * time.Second, "54.199.254.150"},
		{3 * time.Second, "not-an-ip"},
		{4 * time.Second, " 54.199.254.150 "},
		{5 * time.Second, "54.199.254.150"},
	}
	for _, r := range records {
		a, err := detector.ParseAddr([]byte(r.host))
		if err != nil {
			fmt.Printf("skip %q: %v\n", r.host, err)
			continue
		}
		if reason, ok := ex.Exempt(a); ok {
			fmt.Printf("skip %v: %s\n", a, reason)
			continue
		}
		if hit, ok := d.ObserveAt(t0.Add(r.at), a); ok {
			fmt.Printf("block %v: %d requests, %s to %s\n", hit.Addr, hit.Count,
				hit.First.Format(time.TimeOnly), hit.Last.Format(time.TimeOnly))
		}
	}
	// The caller's block has ended: the address may fire again.
	fmt.Println("released:", d.Release(netip.MustParseAddr("54.199.254.150")))
	// Output:
	// skip 10.0.0.7: private
	// skip "not-an-ip": detector: not an IP address
	// block 54.199.254.150: 3 requests, 10:00:00 to 10:00:04
	// released: true
}
