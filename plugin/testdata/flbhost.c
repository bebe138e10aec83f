/*
 * flbhost: a minimal stand-in for Fluent Bit v5.1.1 that drives a Go output
 * plugin (a -buildmode=c-shared .so built with fluent-bit-go) exactly the way
 * Fluent Bit's Go proxy does (src/flb_plugin_proxy.c, src/proxy/go/go.c,
 * src/flb_output.c, src/flb_api.c at tag v5.1.1).
 *
 * It reads a script of commands (argv[1], or stdin), one per line, and prints
 * one result line per command on stdout. See README.md beside this file for
 * the command language. Exit status: 0 success, 2 usage or protocol error,
 * 3 failed expect.
 *
 * What is reproduced from Fluent Bit:
 *   - dlopen(path, RTLD_LAZY); symbols looked up with dlsym + dlerror.
 *   - optional FLBPluginPreRegister(hot_reload=0) (-1 aborts), then
 *     FLBPluginRegister(def) on a calloc'd, full-size flb_plugin_proxy_def.
 *   - ONE flbgo_output_plugin per .so (malloc'd at registration, like
 *     proxy_go_output_register) whose api, o_ins and context are overwritten
 *     before each instance's FLBPluginInit(plugin).
 *   - one calloc'd flb_plugin_proxy_context per instance, ->proxy set;
 *     the plugin stores its handle in ->remote_context (FLBPluginSetContext).
 *   - flb_api with all v5.1.1 members; output_get_property is a
 *     case-insensitive lookup returning NULL when absent. Properties the core
 *     consumes (match, host, port, workers, tls*, ...) never reach it, empty
 *     values read as NULL, ${VAR} and ${VAR:-default} are expanded, and the
 *     first definition of a key wins (Fluent Bit appends to a list and returns
 *     the first match).
 *   - flush: the tag is copied into a malloc(len+1) buffer, then
 *     FLBPluginFlushCtx(ctx->remote_context, data, size, tag) if exported,
 *     else FLBPluginFlush(data, size, tag). Both buffers are freed right after.
 *     With FLBHOST_GUARD=1 both end at a PROT_NONE page instead, so that an
 *     overread faults at once.
 *   - exit: FLBPluginOutputPreExit(0) if exported, then
 *     FLBPluginExitCtx(remote_context) if exported, else FLBPluginExit().
 *     Fluent Bit calls PreExit inside every instance's exit callback, so this
 *     host does too.
 *   - unregister: FLBPluginUnregister(def) if exported, then dlclose.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FLBHOST_HAVE_VALGRIND 1
#endif
#endif

#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11
#define MAX_INSTANCES 16

#define EXIT_PROTOCOL 2
#define EXIT_EXPECT 3

/* ---- Fluent Bit v5.1.1 ABI (LP64) -------------------------------------- */

struct mk_list {
    struct mk_list *prev, *next;
};

struct flb_config_map;
struct flb_output_instance;
struct flb_input_instance;
struct flb_custom_instance;

/* include/fluent-bit/flb_plugin_proxy.h */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    struct flb_config_map *config_map;
};

struct flb_api;

struct flb_plugin_proxy {
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;
    void *instance;
    void *dso_handler;
    void *data;
    struct mk_list _head;
};

struct flb_plugin_proxy_context {
    void *remote_context;
    struct flb_plugin_proxy *proxy;
};

/* src/proxy/go/go.h */
struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;

    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *, size_t, const char *);
    int (*cb_flush_ctx)(void *, const void *, size_t, char *);
    int (*cb_exit)();
    int (*cb_exit_ctx)(void *);
};

/* include/fluent-bit/flb_api.h */
struct flb_api {
    const char *(*output_get_property)(const char *,
                                       struct flb_output_instance *);
    const char *(*input_get_property)(const char *,
                                      struct flb_input_instance *);

    void *(*output_get_cmt_instance)(struct flb_output_instance *);
    void *(*input_get_cmt_instance)(struct flb_input_instance *);

    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(struct flb_input_instance *, int);
    int (*output_log_check)(struct flb_output_instance *, int);

    const char *(*custom_get_property)(const char *,
                                       struct flb_custom_instance *);
    int (*custom_log_check)(struct flb_custom_instance *, int);
};

/* ---- host state -------------------------------------------------------- */

struct prop {
    char *key;
    char *val; /* NULL when the configured value was empty */
};

enum inst_state { INST_NEW = 0, INST_RUNNING, INST_EXITED };

/* The host's output instance: opaque to the plugin, passed back as o_ins. */
struct flb_output_instance {
    int id;
    enum inst_state state;
    int log_level; /* like ins->log_level: FLB_LOG_* from the core key log_level */
    struct prop *props;
    size_t nprops, capprops;
    struct flb_plugin_proxy_context *context; /* like ins->context */
};

/* The exported entry points, with the signatures Fluent Bit calls them by. */
typedef int (*pre_register_fn)(int hot_reload);
typedef int (*register_fn)(struct flb_plugin_proxy_def *);
typedef int (*init_fn)(struct flbgo_output_plugin *);
typedef int (*flush_fn)(const void *, size_t, const char *);
typedef int (*flush_ctx_fn)(void *, const void *, size_t, char *);
typedef int (*exit_fn)();
typedef int (*exit_ctx_fn)(void *);
typedef void (*unregister_fn)(struct flb_plugin_proxy_def *);
typedef int (*pre_run_fn)(int hot_reload);
typedef void (*pre_exit_fn)(int hot_reload);

static struct {
    void *dso;
    pre_register_fn pre_register;
    register_fn reg;
    init_fn init;
    flush_fn flush;
    flush_ctx_fn flush_ctx;
    exit_fn exit_;
    exit_ctx_fn exit_ctx;
    unregister_fn unregister;
    pre_run_fn pre_run;
    pre_exit_fn pre_exit;

    int registered;
    int unregistered;
    struct flb_plugin_proxy *proxy;
    struct flbgo_output_plugin *plugin; /* the ONE per .so */

    struct flb_output_instance inst[MAX_INSTANCES];

    int trace;
    int guard; /* FLBHOST_GUARD=1: flush buffers end at a PROT_NONE page */
    int in_init; /* > 0 while FLBPluginInit runs */
    long lineno;
    char last[4096]; /* last result line, for expect */
} host;

/* ---- output ------------------------------------------------------------ */

static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void die(int code, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "flbhost: line %ld: ", host.lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

/* result prints one result line to stdout, flushes it and remembers it. */
static void result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void result(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(host.last, sizeof(host.last), fmt, ap);
    va_end(ap);
    fputs(host.last, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---- the flb_api callbacks --------------------------------------------- */

static const char *output_get_property(const char *key,
                                       struct flb_output_instance *ins)
{
    const char *val = NULL;
    size_t i, len;

    if (host.in_init == 0) {
        fprintf(stderr,
                "flbhost: warning: output_get_property(\"%s\") called outside "
                "FLBPluginInit (o_ins is instance %d, the last one "
                "initialised)\n",
                key ? key : "(null)", ins ? ins->id : -1);
    }
    /* flb_kv_get_key_value: same length, strncasecmp, first match wins */
    if (ins != NULL && key != NULL && (len = strlen(key)) > 0) {
        for (i = 0; i < ins->nprops; i++) {
            if (strlen(ins->props[i].key) == len &&
                strncasecmp(ins->props[i].key, key, len) == 0) {
                val = ins->props[i].val;
                break;
            }
        }
    }
    if (host.trace) {
        fprintf(stderr, "getprop %d %s -> %s\n", ins ? ins->id : -1,
                key ? key : "(null)", val ? val : "NULL");
        fflush(stderr);
    }
    return val;
}

static const char *input_get_property(const char *key,
                                      struct flb_input_instance *ins)
{
    (void)key;
    (void)ins;
    fprintf(stderr, "flbhost: warning: input_get_property called\n");
    return NULL;
}

static void *output_get_cmt_instance(struct flb_output_instance *ins)
{
    (void)ins;
    return NULL;
}

static void *input_get_cmt_instance(struct flb_input_instance *ins)
{
    (void)ins;
    return NULL;
}

/* log_print renders a line as flb_log_print does on a thread that is not a
 * Fluent Bit worker: "[YYYY/MM/DD HH:MM:SS.mmm] [ info] <message>" on stderr. */
static void log_print(int level, const char *file, int line, const char *fmt,
                      ...)
{
    static const char *tags[] = {"", "error", " warn", " info", "debug", "trace"};
    char msg[4096], stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    (void)file;
    (void)line;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s.%03ld] [%s] %s\n", stamp, ts.tv_nsec / 1000000,
            level >= 1 && level <= 5 ? tags[level] : "  ???", msg);
}

static int input_log_check(struct flb_input_instance *ins, int level)
{
    (void)ins;
    (void)level;
    return 1;
}

/* output_log_check is flb_output_log_check: the instance's log_level. */
static int output_log_check(struct flb_output_instance *ins, int level)
{
    int set = ins && ins->log_level ? ins->log_level : 3 /* info */;

    return level <= set;
}

static const char *custom_get_property(const char *key,
                                       struct flb_custom_instance *ins)
{
    (void)key;
    (void)ins;
    return NULL;
}

static int custom_log_check(struct flb_custom_instance *ins, int level)
{
    (void)ins;
    (void)level;
    return 1;
}

/* ---- properties -------------------------------------------------------- */

/* core_key reports whether Fluent Bit's flb_output_set_property consumes key
 * itself, so that output_get_property never sees it. */
static int core_key(const char *k)
{
    static const char *const exact[] = {
        "match", "match_regex", "alias", "log_level", "log_suppress_interval",
        "host", "port", "ipv6", "retry_limit", "storage.total_limit_size",
        "workers", "tls", "tls.verify", "tls.verify_hostname", "tls.debug",
        "tls.vhost", "tls.ca_path", "tls.ca_file", "tls.crt_file",
        "tls.key_file", "tls.key_passwd", "tls.min_version", "tls.max_version",
        "tls.ciphers", "tls.proxy.verify", "tls.proxy.verify_hostname",
        "tls.proxy.ca_path", "tls.proxy.ca_file",
    };
    size_t i;

    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcasecmp(k, exact[i]) == 0) {
            return 1;
        }
    }
    return strncasecmp(k, "net.", 4) == 0 || strncasecmp(k, "oauth2", 6) == 0;
}

static void buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                       size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) {
            *cap = *cap ? *cap * 2 : 64;
        }
        *buf = realloc(*buf, *cap);
        if (*buf == NULL) {
            die(EXIT_PROTOCOL, "out of memory");
        }
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* env_expand replaces ${VAR} and ${VAR:-default} like flb_env_var_translate
 * (unset or empty VAR -> default or ""). Returns a malloc'd string. */
static char *env_expand(const char *v)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    const char *p = v;

    buf_append(&out, &len, &cap, "", 0);
    for (;;) {
        const char *start = strstr(p, "${");
        const char *end;
        char name[4096];
        const char *def = NULL;
        const char *val;
        char *sep;
        size_t n;

        if (start == NULL || (end = strchr(start + 2, '}')) == NULL) {
            break;
        }
        n = (size_t)(end - (start + 2));
        if (n == 0 || n >= sizeof(name)) {
            break;
        }
        buf_append(&out, &len, &cap, p, (size_t)(start - p));
        memcpy(name, start + 2, n);
        name[n] = '\0';
        sep = strstr(name, ":-");
        if (sep != NULL) {
            def = sep + 2;
            *sep = '\0';
        }
        val = getenv(name);
        if (val != NULL && *val != '\0') {
            buf_append(&out, &len, &cap, val, strlen(val));
        }
        else if (def != NULL) {
            buf_append(&out, &len, &cap, def, strlen(def));
        }
        p = end + 1;
    }
    buf_append(&out, &len, &cap, p, strlen(p));
    return out;
}

/* ---- helpers ----------------------------------------------------------- */

static char *next_token(char **s)
{
    char *p = *s;
    char *tok;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '\0') {
        *s = p;
        return NULL;
    }
    tok = p;
    while (*p != '\0' && *p != ' ' && *p != '\t') {
        p++;
    }
    if (*p != '\0') {
        *p++ = '\0';
    }
    *s = p;
    return tok;
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end;
    long v;

    if (s == NULL) {
        die(EXIT_PROTOCOL, "missing %s", what);
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
        die(EXIT_PROTOCOL, "bad %s %s (want %ld..%ld)", what, s, lo, hi);
    }
    return v;
}

static struct flb_output_instance *instance_arg(const char *s)
{
    return &host.inst[parse_long(s, "instance", 0, MAX_INSTANCES - 1)];
}

static void need_plugin(const char *cmd)
{
    if (host.dso == NULL) {
        die(EXIT_PROTOCOL, "%s before load", cmd);
    }
    if (!host.registered) {
        die(EXIT_PROTOCOL, "%s before register", cmd);
    }
    if (host.unregistered) {
        die(EXIT_PROTOCOL, "%s after unregister", cmd);
    }
}

static struct flb_output_instance *running_instance(const char *cmd,
                                                    const char *arg)
{
    struct flb_output_instance *ins;

    need_plugin(cmd);
    ins = instance_arg(arg);
    if (ins->state != INST_RUNNING) {
        die(EXIT_PROTOCOL, "%s: instance %d is not initialised", cmd, ins->id);
    }
    return ins;
}

struct chunk {
    unsigned char *data;
    size_t size;
};

static struct chunk read_chunk(const char *path)
{
    struct chunk c = {NULL, 0};
    size_t cap = 0;
    FILE *f;

    if (path == NULL) {
        die(EXIT_PROTOCOL, "missing chunk file");
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        die(EXIT_PROTOCOL, "open chunk %s: %s", path, strerror(errno));
    }
    for (;;) {
        size_t n;

        if (c.size == cap) {
            cap = cap ? cap * 2 : 65536;
            c.data = realloc(c.data, cap);
            if (c.data == NULL) {
                die(EXIT_PROTOCOL, "out of memory");
            }
        }
        n = fread(c.data + c.size, 1, cap - c.size, f);
        c.size += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        die(EXIT_PROTOCOL, "read chunk %s: %s", path, strerror(errno));
    }
    fclose(f);
    return c;
}

/* A flush buffer: malloc'd, or with FLBHOST_GUARD=1 the last bytes of an
 * mmap'd region followed by a PROT_NONE page, so that reading even one byte
 * past the end faults at once (in Go code too, where ASan sees nothing). */
struct fbuf {
    void *p;
    void *map;
    size_t maplen;
};

static struct fbuf fbuf_alloc(size_t size)
{
    struct fbuf b = {NULL, NULL, 0};
    size_t page, body;

    if (!host.guard) {
        b.p = malloc(size ? size : 1);
        if (b.p == NULL) {
            die(EXIT_PROTOCOL, "out of memory");
        }
        return b;
    }
    page = (size_t)sysconf(_SC_PAGESIZE);
    body = (size + page - 1) / page * page;
    b.maplen = body + page;
    b.map = mmap(NULL, b.maplen, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b.map == MAP_FAILED) {
        die(EXIT_PROTOCOL, "mmap: %s", strerror(errno));
    }
    if (mprotect((char *)b.map + body, page, PROT_NONE) != 0) {
        die(EXIT_PROTOCOL, "mprotect: %s", strerror(errno));
    }
    b.p = (char *)b.map + body - size;
    return b;
}

static void fbuf_free(struct fbuf *b)
{
    if (b->map != NULL) {
        munmap(b->map, b->maplen);
    }
    else {
        free(b->p);
    }
}

/* do_flush is proxy_go_output_flush: exact-size copies of data and tag that
 * live only for the duration of the call. */
static int do_flush(struct flb_output_instance *ins, const struct chunk *c,
                    const char *tag)
{
    size_t tag_len = strlen(tag);
    struct fbuf data = fbuf_alloc(c->size);
    struct fbuf buf = fbuf_alloc(tag_len + 1);
    int ret;

    if (c->size) {
        memcpy(data.p, c->data, c->size);
    }
    memcpy(buf.p, tag, tag_len);
    ((char *)buf.p)[tag_len] = '\0';

    if (host.flush_ctx) {
        ret = host.flush_ctx(ins->context->remote_context, data.p, c->size,
                             buf.p);
    }
    else {
        ret = host.flush(data.p, c->size, buf.p);
    }
    fbuf_free(&buf);
    fbuf_free(&data);
    return ret;
}

/* ---- commands ---------------------------------------------------------- */

/* sym is flb_plugin_proxy_symbol; found names are appended to found_syms. */
static char found_syms[1024];

static void *sym(const char *name)
{
    size_t found_len = sizeof(found_syms);
    char *found = found_syms;
    void *s;

    dlerror();
    s = dlsym(host.dso, name);
    if (dlerror() != NULL) {
        return NULL;
    }
    if (s != NULL) {
        if (found[0] != '\0') {
            strncat(found, ",", found_len - strlen(found) - 1);
        }
        strncat(found, name, found_len - strlen(found) - 1);
    }
    return s;
}

static void cmd_load(char *args)
{
    char *path = next_token(&args);

    if (path == NULL) {
        die(EXIT_PROTOCOL, "load: missing path");
    }
    if (host.dso != NULL) {
        die(EXIT_PROTOCOL, "load: a plugin is already loaded");
    }
    host.dso = dlopen(path, RTLD_LAZY);
    if (host.dso == NULL) {
        die(EXIT_PROTOCOL, "load: dlopen %s: %s", path, dlerror());
    }
    host.reg = (register_fn)sym("FLBPluginRegister");
    host.init = (init_fn)sym("FLBPluginInit");
    host.flush = (flush_fn)sym("FLBPluginFlush");
    host.flush_ctx = (flush_ctx_fn)sym("FLBPluginFlushCtx");
    host.exit_ = (exit_fn)sym("FLBPluginExit");
    host.exit_ctx = (exit_ctx_fn)sym("FLBPluginExitCtx");
    host.unregister = (unregister_fn)sym("FLBPluginUnregister");
    host.pre_register =
        (pre_register_fn)sym("FLBPluginPreRegister");
    host.pre_run = (pre_run_fn)sym("FLBPluginOutputPreRun");
    host.pre_exit = (pre_exit_fn)sym("FLBPluginOutputPreExit");
    if (host.reg == NULL) {
        die(EXIT_PROTOCOL, "load: %s has no FLBPluginRegister", path);
    }
    if (host.init == NULL) {
        die(EXIT_PROTOCOL, "load: %s has no FLBPluginInit", path);
    }
    if (host.flush == NULL && host.flush_ctx == NULL) {
        die(EXIT_PROTOCOL,
            "load: %s has neither FLBPluginFlush nor FLBPluginFlushCtx", path);
    }
    result("load ok symbols=%s", found_syms);
}

static void cmd_register(void)
{
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;
    struct flbgo_output_plugin *plugin;
    int ret;

    if (host.dso == NULL) {
        die(EXIT_PROTOCOL, "register before load");
    }
    if (host.registered) {
        die(EXIT_PROTOCOL, "register: already registered");
    }

    /* flb_plugin_proxy_create */
    host.proxy = calloc(1, sizeof(*host.proxy));
    api = malloc(sizeof(*api));
    def = calloc(1, sizeof(*def));
    if (host.proxy == NULL || api == NULL || def == NULL) {
        die(EXIT_PROTOCOL, "out of memory");
    }
    api->output_get_property = output_get_property;
    api->input_get_property = input_get_property;
    api->output_get_cmt_instance = output_get_cmt_instance;
    api->input_get_cmt_instance = input_get_cmt_instance;
    api->log_print = log_print;
    api->input_log_check = input_log_check;
    api->output_log_check = output_log_check;
    api->custom_get_property = custom_get_property;
    api->custom_log_check = custom_log_check;
    def->type = FLB_PROXY_OUTPUT_PLUGIN;
    host.proxy->def = def;
    host.proxy->api = api;
    host.proxy->dso_handler = host.dso;

    /* flb_plugin_proxy_register */
    if (host.pre_register != NULL) {
        ret = host.pre_register(0);
        if (ret == -1) {
            result("register rc=-1 pre_register=-1");
            die(EXIT_PROTOCOL, "register: FLBPluginPreRegister returned -1");
        }
    }
    ret = host.reg(def);
    result("register rc=%d type=%d proxy=%d name=%s desc=%s event_type=%d "
           "flags=%d config_map=%s",
           ret, def->type, def->proxy, def->name ? def->name : "(null)",
           def->description ? def->description : "(null)", def->event_type,
           def->flags, def->config_map ? "set" : "null");
    if (ret == -1) {
        die(EXIT_PROTOCOL, "register: FLBPluginRegister returned -1");
    }
    if (def->proxy != FLB_PROXY_GOLANG ||
        def->type != FLB_PROXY_OUTPUT_PLUGIN) {
        die(EXIT_PROTOCOL,
            "register: type=%d proxy=%d, Fluent Bit needs type=%d proxy=%d",
            def->type, def->proxy, FLB_PROXY_OUTPUT_PLUGIN, FLB_PROXY_GOLANG);
    }
    if (def->name == NULL) {
        die(EXIT_PROTOCOL, "register: plugin set no name");
    }

    /* proxy_go_output_register: malloc, not calloc, like Fluent Bit */
    plugin = malloc(sizeof(*plugin));
    if (plugin == NULL) {
        die(EXIT_PROTOCOL, "out of memory");
    }
    plugin->cb_init = host.init;
    plugin->cb_flush = host.flush;
    plugin->cb_flush_ctx = host.flush_ctx;
    plugin->cb_exit = host.exit_;
    plugin->cb_exit_ctx = host.exit_ctx;
    plugin->name = strdup(def->name);
    host.proxy->data = plugin;
    host.plugin = plugin;
    host.registered = 1;
}

static void cmd_prop(char *args)
{
    struct flb_output_instance *ins;
    char *key, *val, *end;

    ins = instance_arg(next_token(&args));
    key = next_token(&args);
    if (key == NULL) {
        die(EXIT_PROTOCOL, "prop: missing key");
    }
    if (ins->state == INST_RUNNING) {
        die(EXIT_PROTOCOL, "prop: instance %d already initialised", ins->id);
    }
    /* value: rest of the line, surrounding blanks trimmed */
    while (*args == ' ' || *args == '\t') {
        args++;
    }
    end = args + strlen(args);
    while (end > args && (end[-1] == ' ' || end[-1] == '\t')) {
        *--end = '\0';
    }
    if (core_key(key)) {
        if (strcasecmp(key, "log_level") == 0) {
            static const char *names[] = {"off", "error", "warn", "info", "debug", "trace"};
            for (int l = 0; l <= 5; l++) {
                if (strcasecmp(args, names[l]) == 0) {
                    ins->log_level = l == 0 ? -1 : l;
                }
            }
        }
        result("prop ok core=1");
        return;
    }
    val = env_expand(args);
    if (*val == '\0') {
        free(val);
        val = NULL;
    }
    if (ins->nprops == ins->capprops) {
        ins->capprops = ins->capprops ? ins->capprops * 2 : 8;
        ins->props = realloc(ins->props, ins->capprops * sizeof(*ins->props));
        if (ins->props == NULL) {
            die(EXIT_PROTOCOL, "out of memory");
        }
    }
    ins->props[ins->nprops].key = strdup(key);
    ins->props[ins->nprops].val = val;
    ins->nprops++;
    result("prop ok");
}

static void cmd_init(char *args)
{
    struct flb_output_instance *ins;
    int ret;

    need_plugin("init");
    ins = instance_arg(next_token(&args));
    if (ins->state == INST_RUNNING) {
        die(EXIT_PROTOCOL, "init: instance %d already initialised", ins->id);
    }
    /* flb_output_new: a fresh proxy context per instance */
    ins->context = calloc(1, sizeof(*ins->context));
    if (ins->context == NULL) {
        die(EXIT_PROTOCOL, "out of memory");
    }
    ins->context->proxy = host.proxy;

    /* flb_proxy_output_cb_init + proxy_go_output_init */
    host.proxy->instance = ins;
    host.plugin->api = host.proxy->api;
    host.plugin->o_ins = ins;
    host.plugin->context = ins->context;

    host.in_init++;
    ret = host.plugin->cb_init(host.plugin);
    host.in_init--;
    if (ret <= 0) {
        /* Fluent Bit destroys the instance without calling exit, and stops */
        free(ins->context);
        ins->context = NULL;
        result("init %d rc=%d context=%s", ins->id, ret, "none");
        return;
    }
    ins->state = INST_RUNNING;
    if (host.pre_run != NULL) {
        int pr = host.pre_run(0);

        result("init %d rc=%d context=%s prerun=%d", ins->id, ret,
               ins->context->remote_context ? "set" : "null", pr);
        return;
    }
    result("init %d rc=%d context=%s", ins->id, ret,
           ins->context->remote_context ? "set" : "null");
}

static void cmd_flush(char *args)
{
    struct flb_output_instance *ins;
    struct chunk c;
    char *path, *tag;
    int ret;

    ins = running_instance("flush", next_token(&args));
    path = next_token(&args);
    tag = next_token(&args);
    if (tag == NULL) {
        die(EXIT_PROTOCOL, "flush: usage: flush <inst> <chunkfile> <tag>");
    }
    c = read_chunk(path);
    ret = do_flush(ins, &c, tag);
    free(c.data);
    result("flush %d rc=%d", ins->id, ret);
}

static void cmd_flushempty(char *args)
{
    struct flb_output_instance *ins;
    struct chunk c = {NULL, 0};
    char *tag;
    int ret;

    ins = running_instance("flushempty", next_token(&args));
    tag = next_token(&args);
    if (tag == NULL) {
        die(EXIT_PROTOCOL, "flushempty: usage: flushempty <inst> <tag>");
    }
    ret = do_flush(ins, &c, tag);
    result("flush %d rc=%d", ins->id, ret);
}

struct flush_job {
    struct flb_output_instance *ins;
    const struct chunk *chunk;
    const char *tag;
    long iters;
    pthread_barrier_t *start;
    atomic_long *ok;
    atomic_long *other;
};

static void *flush_thread(void *arg)
{
    struct flush_job *job = arg;
    long i;

    pthread_barrier_wait(job->start);
    for (i = 0; i < job->iters; i++) {
        if (do_flush(job->ins, job->chunk, job->tag) == 1) {
            atomic_fetch_add(job->ok, 1);
        }
        else {
            atomic_fetch_add(job->other, 1);
        }
    }
    return NULL;
}

static void cmd_flushthreads(char *args)
{
    struct flb_output_instance *ins;
    struct chunk c;
    char *path, *tag;
    long n, iters, i;
    pthread_t *th;
    pthread_barrier_t start;
    atomic_long ok = 0, other = 0;
    struct flush_job job;
    int err;

    ins = running_instance("flushthreads", next_token(&args));
    path = next_token(&args);
    tag = next_token(&args);
    n = parse_long(next_token(&args), "nthreads", 1, 256);
    iters = parse_long(next_token(&args), "iters", 0, 100000000);
    if (tag == NULL) {
        die(EXIT_PROTOCOL, "flushthreads: missing tag");
    }
    c = read_chunk(path);
    th = calloc((size_t)n, sizeof(*th));
    if (th == NULL) {
        die(EXIT_PROTOCOL, "out of memory");
    }
    pthread_barrier_init(&start, NULL, (unsigned)n);
    job = (struct flush_job){ins, &c, tag, iters, &start, &ok, &other};
    for (i = 0; i < n; i++) {
        err = pthread_create(&th[i], NULL, flush_thread, &job);
        if (err != 0) {
            die(EXIT_PROTOCOL, "flushthreads: pthread_create: %s",
                strerror(err));
        }
    }
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&start);
    free(th);
    free(c.data);
    result("flushthreads %d ok=%ld other=%ld", ins->id, atomic_load(&ok),
           atomic_load(&other));
}

/* The coroutine of flushstack. makecontext only passes ints, so the job goes
 * through these statics; the main context waits in swapcontext meanwhile. */
static ucontext_t co_main, co_flush;
static struct {
    struct flb_output_instance *ins;
    const struct chunk *chunk;
    const char *tag;
    int ret;
} co_job;

static void co_entry(void)
{
    co_job.ret = do_flush(co_job.ins, co_job.chunk, co_job.tag);
    /* returning resumes uc_link (co_main) */
}

static void cmd_flushstack(char *args)
{
    struct flb_output_instance *ins;
    struct chunk c;
    char *path, *tag;
    long stack_bytes, page, mapped;
    unsigned char *map;
#ifdef FLBHOST_HAVE_VALGRIND
    unsigned vg_id;
#endif

    ins = running_instance("flushstack", next_token(&args));
    path = next_token(&args);
    tag = next_token(&args);
    stack_bytes = parse_long(next_token(&args), "stackbytes", 4096, 64L << 20);
    if (tag == NULL) {
        die(EXIT_PROTOCOL, "flushstack: missing tag");
    }
    c = read_chunk(path);

    /* The stack is the top stack_bytes of a mapping with a PROT_NONE guard
     * page below, so an overflow faults instead of corrupting the heap. */
    page = sysconf(_SC_PAGESIZE);
    mapped = ((stack_bytes + page - 1) / page) * page + page;
    map = mmap(NULL, (size_t)mapped, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        die(EXIT_PROTOCOL, "flushstack: mmap: %s", strerror(errno));
    }
    if (mprotect(map, (size_t)page, PROT_NONE) != 0) {
        die(EXIT_PROTOCOL, "flushstack: mprotect: %s", strerror(errno));
    }

    if (getcontext(&co_flush) != 0) {
        die(EXIT_PROTOCOL, "flushstack: getcontext: %s", strerror(errno));
    }
    co_flush.uc_stack.ss_sp = map + mapped - stack_bytes;
    co_flush.uc_stack.ss_size = (size_t)stack_bytes;
    co_flush.uc_link = &co_main;
    makecontext(&co_flush, co_entry, 0);
    co_job.ins = ins;
    co_job.chunk = &c;
    co_job.tag = tag;
    co_job.ret = -12345;
#ifdef FLBHOST_HAVE_VALGRIND
    vg_id = VALGRIND_STACK_REGISTER(map + mapped - stack_bytes, map + mapped);
#endif
    if (swapcontext(&co_main, &co_flush) != 0) {
        die(EXIT_PROTOCOL, "flushstack: swapcontext: %s", strerror(errno));
    }
#ifdef FLBHOST_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(vg_id);
#endif
    munmap(map, (size_t)mapped);
    free(c.data);
    result("flushstack %d rc=%d", ins->id, co_job.ret);
}

static void cmd_exit(char *args)
{
    struct flb_output_instance *ins;
    int ret = 0;

    ins = running_instance("exit", next_token(&args));
    /* flb_proxy_output_cb_exit */
    if (host.pre_exit != NULL) {
        host.pre_exit(0);
    }
    /* proxy_go_output_destroy */
    if (host.exit_ctx != NULL) {
        ret = host.exit_ctx(ins->context->remote_context);
    }
    else if (host.exit_ != NULL) {
        ret = host.exit_();
    }
    free(ins->context);
    ins->context = NULL;
    ins->state = INST_EXITED;
    result("exit %d rc=%d", ins->id, ret);
}

static void cmd_unregister(void)
{
    int i;

    need_plugin("unregister");
    for (i = 0; i < MAX_INSTANCES; i++) {
        if (host.inst[i].state == INST_RUNNING) {
            fprintf(stderr,
                    "flbhost: warning: unregister while instance %d is "
                    "running (Fluent Bit exits every instance first)\n",
                    i);
        }
    }
    /* flb_proxy_output_cb_destroy */
    if (host.unregister != NULL) {
        host.unregister(host.proxy->def);
    }
    free(host.plugin->name);
    free(host.plugin);
    host.plugin = NULL;
    free(host.proxy->def);
    free(host.proxy->api);
    dlclose(host.dso); /* a Go c-shared library is never really unloaded */
    free(host.proxy);
    host.proxy = NULL;
    host.unregistered = 1;
    result("unregister ok");
}

/* cmd_expect checks that the last result line has "<word>=<value>" as a
 * whole blank-separated token. */
static void cmd_expect(char *args)
{
    char *word = next_token(&args);
    char *value = next_token(&args);
    char want[1024];
    const char *p;
    size_t n;

    if (word == NULL || value == NULL) {
        die(EXIT_PROTOCOL, "expect: usage: expect <word> <value>");
    }
    snprintf(want, sizeof(want), "%s=%s", word, value);
    n = strlen(want);
    for (p = host.last; (p = strstr(p, want)) != NULL; p++) {
        if ((p == host.last || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) {
            fputs("expect ok\n", stdout);
            fflush(stdout);
            return;
        }
    }
    fflush(stdout);
    fprintf(stderr, "expect FAILED: line %ld: want %s in \"%s\"\n",
            host.lineno, want, host.last);
    exit(EXIT_EXPECT);
}

static void cmd_sleepms(char *args)
{
    long ms = parse_long(next_token(&args), "milliseconds", 0, 3600000);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    result("sleepms ok");
}

static void run_line(char *line)
{
    char *args = line;
    char *cmd = next_token(&args);

    if (cmd == NULL || cmd[0] == '#') {
        return;
    }
    if (strcmp(cmd, "load") == 0) {
        cmd_load(args);
    }
    else if (strcmp(cmd, "register") == 0) {
        cmd_register();
    }
    else if (strcmp(cmd, "prop") == 0) {
        cmd_prop(args);
    }
    else if (strcmp(cmd, "init") == 0) {
        cmd_init(args);
    }
    else if (strcmp(cmd, "flush") == 0) {
        cmd_flush(args);
    }
    else if (strcmp(cmd, "flushempty") == 0) {
        cmd_flushempty(args);
    }
    else if (strcmp(cmd, "flushthreads") == 0) {
        cmd_flushthreads(args);
    }
    else if (strcmp(cmd, "flushstack") == 0) {
        cmd_flushstack(args);
    }
    else if (strcmp(cmd, "exit") == 0) {
        cmd_exit(args);
    }
    else if (strcmp(cmd, "unregister") == 0) {
        cmd_unregister();
    }
    else if (strcmp(cmd, "expect") == 0) {
        cmd_expect(args);
    }
    else if (strcmp(cmd, "sleepms") == 0) {
        cmd_sleepms(args);
    }
    else {
        die(EXIT_PROTOCOL, "unknown command %s", cmd);
    }
}

int main(int argc, char **argv)
{
    FILE *in = stdin;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    const char *trace = getenv("FLBHOST_TRACE");
    const char *guard = getenv("FLBHOST_GUARD");
    int i;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [script]\n", argv[0]);
        return EXIT_PROTOCOL;
    }
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        in = fopen(argv[1], "r");
        if (in == NULL) {
            fprintf(stderr, "flbhost: open %s: %s\n", argv[1],
                    strerror(errno));
            return EXIT_PROTOCOL;
        }
    }
    host.trace = trace != NULL && strcmp(trace, "1") == 0;
    host.guard = guard != NULL && strcmp(guard, "1") == 0;
    for (i = 0; i < MAX_INSTANCES; i++) {
        host.inst[i].id = i;
    }

    while ((n = getline(&line, &cap, in)) != -1) {
        host.lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        run_line(line);
    }
    free(line);
    if (in != stdin) {
        fclose(in);
    }
    return 0;
}
