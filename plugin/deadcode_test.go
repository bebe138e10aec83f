//go:build cgo

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLinkerDropsUnusedSDKCode checks that the linker's dead code
// elimination works on the .so: it keeps the few EC2 operations dosguard
// calls, not the EC2 client's hundreds. One dependency calling
// reflect.Value.Method or MethodByName with a name only known at run time
// (or MethodByName("Methods") under Go 1.26, as protobuf before v1.36.12
// did) makes the linker keep every exported method of every type: the .so
// then grows from about 25 MB to over 80 MB and takes about 40 ms more CPU
// to load in Fluent Bit (BENCHMARKS.md, "Loading the plugin").
func TestLinkerDropsUnusedSDKCode(t *testing.T) {
	so, _ := buildAll(t)
	out, err := exec.Command("go", "tool", "nm", so).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	var ops []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[2], "github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).") {
			ops = append(ops, strings.TrimPrefix(f[2], "github.com/aws/aws-sdk-go-v2/service/ec2.(*Client)."))
		}
	}
	if len(ops) == 0 || len(ops) > 40 {
		t.Errorf("the .so holds %d EC2 client methods, want the few dosguard calls (at most 40): dead code elimination is off; find the cause with go build -ldflags=-dumpdep", len(ops))
	}
	fi, err := os.Stat(so)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 50<<20 {
		t.Errorf("the .so is %d MB, want under 50", fi.Size()>>20)
	}
}
