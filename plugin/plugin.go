// Command plugin is out_dosguard.so, the Fluent Bit output plugin: a thin
// shim over package guard. It reads the [OUTPUT] properties through Fluent
// Bit's getter, builds one guard per instance, hands each chunk to it and
// maps the outcome to FLB_OK / FLB_ERROR. No panic leaves an export.
//
// Build: go build -buildmode=c-shared -o out_dosguard.so ./plugin
package main

import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/metrics"
)

const (
	pluginName = "dosguard"
	pluginDesc = "Deny abusive clients in AWS Network ACLs and notify SNS"
)

// instance is what FLBPluginSetContext stores for one [OUTPUT] section.
type instance struct {
	name   string
	g      *guard.Guard
	cfg    conf.Config
	log    *slog.Logger
	mx     *metrics.Output // nil without Metrics_Listen
	alive  atomic.Bool
	handle unsafe.Pointer // what Fluent Bit passes back: see setContext
	cpu    flushCPU
}

var (
	instanceSeq atomic.Int64
	instances   sync.Map    // *instance -> struct{}: for FLBPluginExit without a context
	hub         metrics.Hub // the Metrics_Listen endpoints, shared by the instances
)

// propGetter adapts Fluent Bit's property getter to conf.Getter.
type propGetter struct{ plugin unsafe.Pointer }

func (p propGetter) Get(key string) string { return property(p.plugin, key) }

// recovered turns a panic into a logged error and the given return code.
func recovered(where string, rc *int, code int) {
	if r := recover(); r != nil {
		fmt.Fprintln(os.Stderr, guard.ConfigError("output:dosguard", fmt.Errorf("panic in %s: %v", where, r)))
		*rc = code
	}
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	defer recovered("register", &rc, -1)
	register(def, pluginName, pluginDesc)
	return 0
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	defer recovered("init", &rc, flbError)
	name := fmt.Sprintf("%s.%d", pluginName, instanceSeq.Add(1)-1)
	component := "output:" + pluginName + ":" + name
	logger, fail := logger(plugin, component)
	cfg, err := conf.Parse(propGetter{plugin})
	if err != nil {
		fail(err)
		return flbError
	}
	var mx *metrics.Output
	if cfg.MetricsListen != "" {
		if mx, err = hub.Open(cfg.MetricsListen, name, logger); err != nil {
			fail(err)
			return flbError
		}
	}
	g, err := newGuard(cfg, mx, logger)
	if err != nil {
		mx.Close()
		fail(err)
		return flbError
	}
	inst := &instance{name: name, g: g, cfg: cfg, log: logger, mx: mx}
	inst.alive.Store(true)
	instances.Store(inst, struct{}{})
	setContext(plugin, inst)
	logger.Info("started", "rules", len(cfg.Rules), "acl_ids", cfg.ACLIDs, "ip_sets", cfg.WAFIPSetARNs,
		"redis", cfg.Redis.On(), "dry_run", cfg.DryRun, "sns", cfg.TopicARN != "", "state_file", cfg.StateFile)
	for _, r := range cfg.Rules {
		logger.Info("rule " + r.Describe())
	}
	return flbOK
}

// newGuard builds and starts the guard of cfg, its AWS clients counted by
// mx (nil: metrics off), which then watches it.
func newGuard(cfg conf.Config, mx *metrics.Output, logger *slog.Logger) (*guard.Guard, error) {
	deps, err := guard.AWSDeps(context.Background(), cfg, mx.APIOptions()...)
	if err != nil {
		return nil, err
	}
	g, err := guard.New(cfg, deps, logger)
	if err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(context.Background(), 3*cfg.AWSTimeout)
	defer cancel()
	if err := g.Start(startCtx); err != nil {
		return nil, err
	}
	if mx != nil {
		if err := mx.Watch(g); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), cfg.ExitTimeout)
			defer cancel()
			_ = g.Close(closeCtx)
			return nil, err
		}
	}
	return g, nil
}

func lookup(ctx unsafe.Pointer) (*instance, bool) {
	inst, ok := getContext(ctx)
	return inst, ok && inst.alive.Load()
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) (rc int) {
	defer recovered("flush", &rc, flbError)
	inst, ok := lookup(ctx)
	if !ok {
		fmt.Fprintln(os.Stderr, guard.ConfigError("output:dosguard", fmt.Errorf("flush: unknown plugin context %p", ctx)))
		return flbError
	}
	var chunk []byte
	if data != nil && length > 0 {
		// Zero-copy view of Fluent Bit's buffer: valid only during this call,
		// and guard keeps no reference to it.
		chunk = unsafe.Slice((*byte)(data), int(length))
	}
	cpu, cpuOK := threadCPU()
	if inst.mx == nil {
		inst.g.Flush(chunk, cString(tag))
	} else {
		start := time.Now()
		fs := inst.g.Flush(chunk, cString(tag))
		inst.mx.ObserveFlush(time.Since(start), fs.Records)
	}
	inst.cpu.add(cpu, cpuOK)
	// Bad records are counted and skipped; the chunk is never retried.
	return flbOK
}

// cString copies a C tag without going through C.GoString's allocation when
// it is empty.
func cString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (rc int) {
	defer recovered("exit", &rc, flbError)
	inst, ok := lookup(ctx)
	if !ok {
		return flbOK
	}
	return closeInstance(inst)
}

//export FLBPluginExit
func FLBPluginExit() (rc int) {
	defer recovered("exit", &rc, flbError)
	rc = flbOK
	instances.Range(func(k, _ any) bool {
		if closeInstance(k.(*instance)) != flbOK {
			rc = flbError
		}
		return true
	})
	return rc
}

func closeInstance(inst *instance) int {
	if !inst.alive.CompareAndSwap(true, false) {
		return flbOK
	}
	instances.Delete(inst)
	dropContext(inst)
	ctx, cancel := context.WithTimeout(context.Background(), inst.cfg.ExitTimeout)
	defer cancel()
	defer inst.mx.Close()
	err := inst.g.Close(ctx)
	inst.cpu.log(inst, inst.g.Stats().Records)
	if err != nil {
		inst.log.Error("exit", "error", err)
		return flbError
	}
	return flbOK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	defer func() { _ = recover() }()
	unregister(def)
}

func main() {}
