package detector_test

import (
	"fmt"
	"net/netip"

	"github.com/dosguard/dosguard/detector"
)

func ExampleClientAddr() {
	// The ALB and every proxy behind it live in the VPC.
	trusted, err := detector.NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")})
	if err != nil {
		panic(err)
	}
	for _, xff := range []string{
		"203.0.113.7",                    // the ALB appended its peer
		"1.1.1.1, 203.0.113.7",           // the client wrote 1.1.1.1: forged
		"203.0.113.7, 10.0.4.4",          // through a second, trusted proxy
		"1.1.1.1, not-an-ip, 10.0.4.4",   // the hop that should name the client is garbage
		"10.0.9.9",                       // a proxy's own request
		"[2001:db8::7]:443, 10.0.4.4:80", // ports are stripped
	} {
		a, err := detector.ClientAddr([]byte(xff), trusted)
		fmt.Printf("%-32q %v %v\n", xff, a, err)
	}
	// Output:
	// "203.0.113.7"                    203.0.113.7 <nil>
	// "1.1.1.1, 203.0.113.7"           203.0.113.7 <nil>
	// "203.0.113.7, 10.0.4.4"          203.0.113.7 <nil>
	// "1.1.1.1, not-an-ip, 10.0.4.4"   invalid IP detector: not an IP address
	// "10.0.9.9"                       invalid IP detector: every address is a trusted proxy
	// "[2001:db8::7]:443, 10.0.4.4:80" 2001:db8::7 <nil>
}
