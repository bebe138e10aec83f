// flb.h: the part of Fluent Bit's Go proxy ABI (flb_api.h, flb_plugin_proxy.h,
// src/proxy/go/go.h) that out_dosguard.so touches, declared here so the
// plugin needs nothing from Fluent Bit's or fluent-bit-go's sources.
#ifndef DOSGUARD_FLB_H
#define DOSGUARD_FLB_H

// The prefix of Fluent Bit's struct flb_api (v2.0 and later) that the
// plugin uses: the property getter (abi.go), the logger (log.go) and
// the per-instance log level check.
struct dg_api {
	const char *(*output_get_property)(const char *, void *);
	const char *(*input_get_property)(const char *, void *);
	void *(*output_get_cmt_instance)(void *);
	void *(*input_get_cmt_instance)(void *);
	void (*log_print)(int, const char *, int, const char *, ...);
	int (*input_log_check)(void *, int);
	int (*output_log_check)(void *, int);
};

// struct flb_plugin_proxy_context.
struct dg_proxy_context {
	void *remote_context;
};

// struct flbgo_output_plugin (go.h), handed to FLBPluginInit: the API, the
// output instance, and the proxy context whose remote_context Fluent Bit
// passes back to FLBPluginFlushCtx and FLBPluginExitCtx.
struct dg_plugin {
	void *name;
	struct dg_api *api;
	void *o_ins;
	struct dg_proxy_context *context;
};

// Return codes, and the proxy type FLBPluginRegister declares.
#define DG_FLB_ERROR 0
#define DG_FLB_OK 1
#define DG_PROXY_OUTPUT_PLUGIN 2
#define DG_PROXY_GOLANG 11

// struct flb_plugin_proxy_def, filled in by FLBPluginRegister.
struct dg_proxy_def {
	int type;
	int proxy;
	int flags;
	char *name;
	char *description;
};

#endif
