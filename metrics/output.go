package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Output is one dosguard output's series on its endpoint. Create it with
// Hub.Open; Close removes them.
type Output struct {
	hub  *Hub
	ep   *endpoint
	name string

	flushSeconds prometheus.Histogram
	flushRecords prometheus.Histogram
	awsCalls     *prometheus.CounterVec
	awsSeconds   *prometheus.HistogramVec

	mu        sync.Mutex
	watched   *collector // nil until Watch
	closeOnce sync.Once
}

// Buckets of the histograms: a flush takes microseconds to milliseconds
// (0.4 µs a record, up to thousands of records), an AWS call tens of
// milliseconds to the AWS_Timeout.
var (
	flushSecondsBuckets = prometheus.ExponentialBuckets(50e-6, 4, 9) // 50µs .. 3.3s
	flushRecordsBuckets = prometheus.ExponentialBuckets(1, 4, 9)     // 1 .. 65536
	awsSecondsBuckets   = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

func newOutput(h *Hub, ep *endpoint, name string) (*Output, error) {
	cl := prometheus.Labels{"output": name}
	o := &Output{
		hub: h, ep: ep, name: name,
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dosguard_flush_duration_seconds", Help: "Time spent in one Fluent Bit flush of a chunk.",
			ConstLabels: cl, Buckets: flushSecondsBuckets,
		}),
		flushRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dosguard_flush_records", Help: "Records in one flushed chunk.",
			ConstLabels: cl, Buckets: flushRecordsBuckets,
		}),
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "dosguard_aws_calls_total",
			Help:        "AWS API calls (retries included in one call) by service, operation and outcome (ok, throttled, client_error, server_error, timeout, network_error).",
			ConstLabels: cl,
		}, []string{"service", "operation", "outcome"}),
		awsSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dosguard_aws_call_duration_seconds", Help: "Latency of AWS API calls, retries included.",
			ConstLabels: cl, Buckets: awsSecondsBuckets,
		}, []string{"service", "operation"}),
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{o.flushSeconds, o.flushRecords, o.awsCalls, o.awsSeconds} {
		if err := ep.reg.Register(c); err != nil {
			for _, d := range done {
				ep.reg.Unregister(d)
			}
			return nil, err
		}
		done = append(done, c)
	}
	return o, nil
}

// Name is the output label of the series, such as "dosguard.0".
func (o *Output) Name() string { return o.name }

// ObserveFlush records one flush: its duration and its records. It does
// not allocate. A nil Output does nothing.
func (o *Output) ObserveFlush(d time.Duration, records int) {
	if o == nil {
		return
	}
	o.flushSeconds.Observe(d.Seconds())
	o.flushRecords.Observe(float64(records))
}

// Watch adds the guard's counters (src) to the output's series, read at
// each scrape. Called once, after the guard is built.
func (o *Output) Watch(src Source) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := newCollector(o.name, src)
	if err := o.ep.reg.Register(c); err != nil {
		return err
	}
	o.watched = c
	return nil
}

// Close removes the output's series and releases its endpoint, which
// closes when no output uses it any more. A nil Output does nothing;
// calls after the first do nothing.
func (o *Output) Close() {
	if o == nil {
		return
	}
	o.closeOnce.Do(func() {
		o.mu.Lock()
		if o.watched != nil {
			o.ep.reg.Unregister(o.watched)
		}
		o.mu.Unlock()
		for _, c := range []prometheus.Collector{o.flushSeconds, o.flushRecords, o.awsCalls, o.awsSeconds} {
			o.ep.reg.Unregister(c)
		}
		o.hub.release(o.ep)
	})
}
