// Package awstest holds what the local AWS endpoints of the tests
// (acl/acltest, wafipset/waftest) share.
package awstest

import (
	"bytes"
	"io"
	"net/http"
)

// OwnBody is an http.RoundTripper giving the transport a request body of
// its own, read into memory.
//
// Without it a call could be retried for no reason the test set up: the SDK
// closes its request body (smithy-go's safeReadCloser) as soon as the
// response arrives, while net/http's writeLoop, running beside the response
// read, may still make its final read of that body; the closed body answers
// io.EOF as an error, the writeLoop tears the connection down under the
// response being read ("use of closed network connection"), deserializing
// fails and the SDK retries. It depends on scheduling only, and showed as a
// refused block making 2 Describe calls under -race on a loaded machine
// (acl TestFull/refuse). With a body in memory the writeLoop never reads the
// SDK's.
type OwnBody struct{ RT http.RoundTripper }

// RoundTrip sends a clone of r with its body in memory.
func (o OwnBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.RT.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Body, _ = r.GetBody()
	return o.RT.RoundTrip(r)
}
