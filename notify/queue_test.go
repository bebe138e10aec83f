package notify_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/dosguard/dosguard/notify"
)

// queueStep is one step: Push a decision for each host in push, then, when
// take is non-nil, Take and want those hosts and wantDropped.
type queueStep struct {
	push        []string
	close       bool
	take        []string
	wantDropped int
	wantLen     int
}

func TestQueue(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		steps []queueStep
	}{
		{
			name: "in push order, emptied by Take", max: 10,
			steps: []queueStep{
				{push: []string{"a", "b"}, wantLen: 2},
				{push: []string{"c"}, take: []string{"a", "b", "c"}, wantLen: 0},
				{take: []string{}, wantLen: 0},
			},
		},
		{
			name: "at the cap the oldest is dropped, counted once with the next Take", max: 3,
			steps: []queueStep{
				{push: []string{"a", "b", "c"}, wantLen: 3},
				{push: []string{"d"}, wantLen: 3},
				{push: []string{"e"}, take: []string{"c", "d", "e"}, wantDropped: 2, wantLen: 0},
				{push: []string{"f"}, take: []string{"f"}, wantDropped: 0, wantLen: 0},
			},
		},
		{
			name: "a push after Close is dropped and counted", max: 3,
			steps: []queueStep{
				{push: []string{"a"}, close: true, wantLen: 1},
				{push: []string{"b"}, take: []string{"a"}, wantDropped: 1, wantLen: 0},
			},
		},
	}
	for _, tt := range tests {
		q := notify.NewQueue(tt.max)
		for i, st := range tt.steps {
			for _, h := range st.push {
				q.Push(withStatus("blocked", "block.flood", h))
			}
			if st.close {
				q.Close()
			}
			if st.take != nil {
				ds, dropped := q.Take()
				var got []string
				for _, d := range ds {
					got = append(got, d.Host)
				}
				if !slices.Equal(got, st.take) && len(got)+len(st.take) > 0 {
					t.Errorf("%s: step %d: Take() = %v, want %v", tt.name, i, got, st.take)
				}
				if dropped != st.wantDropped {
					t.Errorf("%s: step %d: Take() dropped %d, want %d", tt.name, i, dropped, st.wantDropped)
				}
			}
			if got := q.Len(); got != st.wantLen {
				t.Errorf("%s: step %d: Len() = %d, want %d", tt.name, i, got, st.wantLen)
			}
		}
	}
}

func TestQueueDefaults(t *testing.T) {
	q := notify.NewQueue(0)
	for i := range notify.DefaultMaxPending + 5 {
		d := blocked()
		d.Requests = i
		q.Push(d)
	}
	ds, dropped := q.Take()
	if len(ds) != notify.DefaultMaxPending || dropped != 5 {
		t.Fatalf("Take() = %d decisions, %d dropped; want %d (the default maximum) and 5", len(ds), dropped, notify.DefaultMaxPending)
	}
	if ds[0].Requests != 5 || ds[len(ds)-1].Requests != notify.DefaultMaxPending+4 {
		t.Errorf("Take() kept requests %d..%d, want the newest 5..%d", ds[0].Requests, ds[len(ds)-1].Requests, notify.DefaultMaxPending+4)
	}
}

// TestQueueReady: Push and Close never block, and leave one signal however
// many there were.
func TestQueueReady(t *testing.T) {
	q := notify.NewQueue(2)
	select {
	case <-q.Ready():
		t.Fatal("Ready signalled before any Push")
	default:
	}
	for range 5 {
		q.Push(blocked())
	}
	q.Close()
	<-q.Ready()
	select {
	case <-q.Ready():
		t.Fatal("Ready holds a second signal, want one for any number of pushes")
	default:
	}
}

// TestQueueConcurrent pushes from one goroutine and takes from another
// (run with -race): every decision is taken once or counted as dropped.
func TestQueueConcurrent(t *testing.T) {
	const n = 5000
	q := notify.NewQueue(64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			d := blocked()
			d.Requests = i
			q.Push(d)
		}
		q.Close()
	}()
	taken, dropped, last := 0, 0, -1
	for {
		<-q.Ready()
		ds, dr := q.Take()
		taken, dropped = taken+len(ds), dropped+dr
		for _, d := range ds {
			if d.Requests <= last {
				t.Fatalf("decision %d taken after %d, want push order", d.Requests, last)
			}
			last = d.Requests
		}
		if taken+dropped == n {
			break
		}
	}
	wg.Wait()
	if ds, dr := q.Take(); len(ds)+dr != 0 {
		t.Errorf("after all were taken: %d more, %d more dropped", len(ds), dr)
	}
}
