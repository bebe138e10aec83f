package main

/*
#include <stdlib.h>
#include "flb.h"

static void dg_register(void *def, char *name, char *desc) {
	struct dg_proxy_def *d = def;
	d->type = DG_PROXY_OUTPUT_PLUGIN;
	d->proxy = DG_PROXY_GOLANG;
	d->flags = 0;
	d->name = name;
	d->description = desc;
}

static void dg_unregister(void *def) {
	struct dg_proxy_def *d = def;
	free(d->name);
	free(d->description);
	d->name = NULL;
	d->description = NULL;
}

static const char *dg_property(void *plugin, const char *key) {
	struct dg_plugin *p = plugin;
	return p->api->output_get_property(key, p->o_ins);
}

static void dg_set_context(void *plugin, void *ctx) {
	((struct dg_plugin *)plugin)->context->remote_context = ctx;
}
*/
import "C"

import (
	"sync"
	"unsafe"
)

// The plugin talks to Fluent Bit's Go proxy through these few calls rather
// than through fluent-bit-go's output package: that package imports a
// msgpack codec whose dependencies (net/rpc, html/template) make the Go
// linker keep every exported method of every type in the binary, the
// whole EC2 client's hundreds of operations among them. The .so was four
// times larger and took tens of milliseconds longer to load (see
// BENCHMARKS.md, "Loading the plugin").

// Return codes of the plugin's callbacks (flb_output.h).
const (
	flbError = C.DG_FLB_ERROR
	flbOK    = C.DG_FLB_OK
)

// register fills in the proxy definition Fluent Bit passes to
// FLBPluginRegister: a Go output plugin with the given name and description,
// in C memory that unregister frees.
func register(def unsafe.Pointer, name, desc string) {
	C.dg_register(def, C.CString(name), C.CString(desc))
}

// unregister frees what register allocated.
func unregister(def unsafe.Pointer) { C.dg_unregister(def) }

// property returns the value of the instance's property key ("" if unset)
// through Fluent Bit's getter.
func property(plugin unsafe.Pointer, key string) string {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	return C.GoString(C.dg_property(plugin, k))
}

// contexts maps the handle Fluent Bit passes to FLBPluginFlushCtx and
// FLBPluginExitCtx to its instance. A handle is one byte of C memory, so
// Fluent Bit holds no Go pointer; dropContext frees it.
var contexts sync.Map // uintptr -> *instance

// setContext makes inst the context of the instance being initialised.
func setContext(plugin unsafe.Pointer, inst *instance) {
	inst.handle = C.malloc(1)
	contexts.Store(uintptr(inst.handle), inst)
	C.dg_set_context(plugin, inst.handle)
}

// getContext returns the instance of handle ctx.
func getContext(ctx unsafe.Pointer) (*instance, bool) {
	v, ok := contexts.Load(uintptr(ctx))
	if !ok {
		return nil, false
	}
	return v.(*instance), true
}

// dropContext forgets inst's handle and frees it; Fluent Bit calls nothing
// with it after exit.
func dropContext(inst *instance) {
	if inst.handle == nil {
		return
	}
	contexts.Delete(uintptr(inst.handle))
	C.free(inst.handle)
	inst.handle = nil
}
