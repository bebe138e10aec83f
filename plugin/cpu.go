package main

/*
#include <time.h>

// dg_thread_cpu_ns is the CPU time the calling thread has used, in ns, or
// -1 where the clock is missing.
static long long dg_thread_cpu_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
		return -1;
	}
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
*/
import "C"

import (
	"sync/atomic"
	"time"
)

// threadCPU is the CPU time the calling thread has used, in ns; ok is false
// where the clock is missing. A flush runs on the Fluent Bit thread that
// calls it from start to end, so the difference of two readings around it is
// the flush's own CPU time, whatever else the process does meanwhile. It
// costs a system call: it is read once per chunk, not per record.
func threadCPU() (ns int64, ok bool) {
	ns = int64(C.dg_thread_cpu_ns())
	return ns, ns >= 0
}

// flushCPU adds up the CPU time of an instance's flushes, for the line the
// plugin logs at exit: what dosguard's own work cost the threads that
// flushed, which bench/flb.sh reads. Flushes may run on several threads at
// once (Workers), so its counters are atomic.
type flushCPU struct {
	ns, flushes atomic.Int64
}

// add records one flush whose thread CPU clock read start before and end
// after it.
func (f *flushCPU) add(start int64, startOK bool) {
	f.flushes.Add(1)
	if end, ok := threadCPU(); ok && startOK && end >= start {
		f.ns.Add(end - start)
	}
}

// log writes the totals to inst's log, with records the flushes read.
func (f *flushCPU) log(inst *instance, records int64) {
	ns, n := f.ns.Load(), f.flushes.Load()
	perRecord := int64(0)
	if records > 0 {
		perRecord = ns / records
	}
	inst.log.Info("flush cpu", "seconds", time.Duration(ns).Seconds(), "flushes", n,
		"records", records, "ns_per_record", perRecord)
}
