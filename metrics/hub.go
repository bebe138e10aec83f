package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dosguard/dosguard/conf"
)

// Hub holds the process's endpoints, one per listen address. The zero
// value is ready to use; it is safe for concurrent use.
type Hub struct {
	mu  sync.Mutex
	eps map[string]*endpoint
}

// endpoint is one listen address: its registry, its server and the outputs
// using it.
type endpoint struct {
	addr string
	reg  *prometheus.Registry
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
	refs int
}

// Open registers the output named name (such as "dosguard.0") on the
// endpoint of addr, listening on addr first if no output of the process
// does yet. Its error, when addr cannot be listened on, names the key and
// the value on one line.
func (h *Hub) Open(addr, name string, logger *slog.Logger) (*Output, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ep, ok := h.eps[addr]
	if !ok {
		var err error
		if ep, err = listen(addr, logger); err != nil {
			return nil, &conf.Error{Key: conf.KeyMetricsListen, Value: addr, Problem: "cannot be listened on: " + err.Error()}
		}
		if h.eps == nil {
			h.eps = map[string]*endpoint{}
		}
		h.eps[addr] = ep
	}
	o, err := newOutput(h, ep, name)
	if err != nil {
		if ep.refs == 0 {
			h.shut(ep)
		}
		return nil, err
	}
	ep.refs++
	return o, nil
}

// Addr returns the address the endpoint of addr listens on (with the port
// chosen when addr's is 0), or "" when no output uses addr.
func (h *Hub) Addr(addr string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ep, ok := h.eps[addr]; ok {
		return ep.ln.Addr().String()
	}
	return ""
}

// release drops one reference to ep; the last one closes it.
func (h *Hub) release(ep *endpoint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ep.refs--; ep.refs == 0 {
		h.shut(ep)
	}
}

// shut closes ep and waits until its port is free; called with mu held.
func (h *Hub) shut(ep *endpoint) {
	delete(h.eps, ep.addr)
	_ = ep.srv.Close()
	<-ep.done
}

// listen starts the endpoint of addr: a registry with the Go runtime's and
// the process's collectors, served at /metrics.
func listen(addr string, logger *slog.Logger) (*endpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError), Registry: reg,
	}))
	ep := &endpoint{
		addr: addr, reg: reg, ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second},
	}
	go func() {
		defer close(ep.done)
		if err := ep.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics endpoint stopped", "listen", addr, "error", err)
		}
	}()
	logger.Info(fmt.Sprintf("metrics at http://%s/metrics", ln.Addr()))
	return ep, nil
}
