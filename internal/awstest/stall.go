package awstest

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is Wait's error when the server closed first.
var ErrClosed = errors.New("awstest: server closed")

// Stalls holds calls of named operations ("*": any) until released. The
// zero value is ready to use; it is safe for concurrent use.
type Stalls struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// Stall makes calls of op hang in Wait until release is called (more than
// once is fine).
func (s *Stalls) Stall(op string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]chan struct{})
	}
	ch, ok := s.m[op]
	if !ok {
		ch = make(chan struct{})
		s.m[op] = ch
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.m[op] == ch {
				delete(s.m, op)
				close(ch)
			}
		})
	}
}

// Wait blocks while op (or "*") is stalled. It returns ctx's error when
// the client gives up first, ErrClosed when closed is closed first.
func (s *Stalls) Wait(ctx context.Context, op string, closed <-chan struct{}) error {
	for {
		s.mu.Lock()
		ch, ok := s.m[op]
		if !ok {
			ch, ok = s.m["*"]
		}
		s.mu.Unlock()
		if !ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-closed:
			return ErrClosed
		}
	}
}
