package main

/*
#include <stdlib.h>
#include "flb.h"

static void *dg_api_of(void *plugin) { return ((struct dg_plugin *)plugin)->api; }
static void *dg_ins_of(void *plugin) { return ((struct dg_plugin *)plugin)->o_ins; }

static int dg_can_log(void *api) {
	struct dg_api *a = api;
	return a != NULL && a->log_print != NULL && a->output_log_check != NULL;
}

static int dg_log_check(void *api, void *ins, int level) {
	return ((struct dg_api *)api)->output_log_check(ins, level);
}

static void dg_log(void *api, int level, const char *msg) {
	((struct dg_api *)api)->log_print(level, NULL, 0, "%s", msg);
}
*/
import "C"

import (
	"fmt"
	"log/slog"
	"os"
	"unsafe"

	"github.com/dosguard/dosguard/guard"
)

// Fluent Bit's log levels (flb_log.h).
const (
	flbLogError = 1
	flbLogWarn  = 2
	flbLogInfo  = 3
	flbLogDebug = 4
)

func flbLevel(l slog.Level) C.int {
	switch {
	case l >= slog.LevelError:
		return flbLogError
	case l >= slog.LevelWarn:
		return flbLogWarn
	case l >= slog.LevelInfo:
		return flbLogInfo
	}
	return flbLogDebug
}

// fluentLog writes through Fluent Bit's own logger: its time format, and the
// instance's log_level (or [SERVICE] Log_Level) decides what is written.
// Lines logged on Fluent Bit's threads (Init, flush, exit) follow Log_File;
// the worker's lines go to stderr, as flb_log_print does for any thread
// that is not Fluent Bit's.
type fluentLog struct {
	api, ins unsafe.Pointer
}

// newFluentLog reads the logger of the instance being initialised; ok is
// false when the Fluent Bit is older than 2.0 and has none.
func newFluentLog(plugin unsafe.Pointer) (fluentLog, bool) {
	api := C.dg_api_of(plugin)
	if C.dg_can_log(api) == 0 {
		return fluentLog{}, false
	}
	return fluentLog{api: api, ins: C.dg_ins_of(plugin)}, true
}

func (f fluentLog) enabled(l slog.Level) bool {
	return C.dg_log_check(f.api, f.ins, flbLevel(l)) != 0
}

func (f fluentLog) print(l slog.Level, line string) {
	cs := C.CString(line)
	defer C.free(unsafe.Pointer(cs))
	C.dg_log(f.api, flbLevel(l), cs)
}

// logger returns the instance's logger: Fluent Bit's when it has one, else
// Fluent Bit's line format on stderr.
func logger(plugin unsafe.Pointer, component string) (*slog.Logger, func(error)) {
	if f, ok := newFluentLog(plugin); ok {
		l := slog.New(guard.NewSinkHandler(component, f.enabled, f.print))
		return l, func(err error) { f.print(slog.LevelError, "["+component+"] "+err.Error()) }
	}
	l := slog.New(guard.NewLogHandler(os.Stderr, component, slog.LevelInfo))
	return l, func(err error) { fmt.Fprintln(os.Stderr, guard.ConfigError(component, err)) }
}
