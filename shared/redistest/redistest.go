// Package redistest starts a real redis-server (Debian's package) on a free
// loopback port for tests: no persistence, stopped when the test ends. Tests
// that need it skip only when redis-server is not installed and the
// environment variable DOSGUARD_REQUIRE_REDIS is unset; CI sets it, so a
// missing server fails there.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	t    testing.TB
	Port int
	args []string
	cmd  *exec.Cmd
}

// Binary returns the path of redis-server, or skips t (fails it when
// DOSGUARD_REQUIRE_REDIS is set).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DOSGUARD_REQUIRE_REDIS") != "" {
			t.Fatalf("redis-server not found: %v", err)
		}
		t.Skip("redis-server not installed")
	}
	return p
}

// Start starts a redis-server on a free loopback port with extra
// arguments (e.g. "--cluster-enabled", "yes") and stops it at the end of
// the test.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, Port: FreePort(t), args: extra}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() }

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir()}, s.args...)
	cmd := exec.Command(Binary(s.t), args...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("redistest: redis-server on %s not ready: %v", s.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond) // polling the server's readiness
	}
}

// ping sends PING and reads the reply.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") { // NOAUTH: up, with ACL users
		return fmt.Errorf("reply %q", line)
	}
	return nil
}

// Stop kills the server and waits for it; the port is free again after.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
