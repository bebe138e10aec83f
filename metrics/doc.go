// Package metrics serves a dosguard process's Prometheus metrics at
// /metrics (Metrics_Listen).
//
// The model: a Hub owns one endpoint (an HTTP server and a registry) per
// listen address, shared by every output of the process that names that
// address and closed when the last one closes. Each output registers an
// Output on it, whose series all carry the label output="dosguard.N":
//
//   - the guard's own counters, read at scrape time by a collector that
//     emits constant metrics (Watch): the flush path does no new work, and a
//     scrape costs a few loads per rule and per target, whatever the number
//     of addresses tracked;
//   - one flush-duration and one records-per-flush observation per flush
//     (ObserveFlush, lock-free, no allocation);
//   - every AWS call by service, operation and outcome, with its latency,
//     from a middleware added to the AWS clients (APIOption): EC2, WAFv2
//     and SNS, all built from one aws.Config;
//   - with Redis_URL, the shared state's sync rounds, their duration,
//     whether Redis answers, the counts dropped, the claims and the bans
//     merged, kept with atomics by the sync goroutine and the worker.
//
// No series carries a client address: the labels are output, rule,
// status, reason, target, family, service, operation and outcome, each
// with a small set of values fixed by the configuration.
package metrics
