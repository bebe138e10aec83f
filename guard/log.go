package guard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogHandler is a slog.Handler writing Fluent Bit's own line format, so
// dosguard's lines read like the rest of Fluent Bit's log:
//
//	[2026/11/21 10:00:00] [ info] [output:dosguard:dosguard.0] blocked 203.0.113.7 rule=block.default
type LogHandler struct {
	mu      *sync.Mutex
	w       io.Writer
	level   slog.Leveler
	enabled func(slog.Level) bool    // instead of level, when set
	sink    func(slog.Level, string) // instead of w, when set
	prefix  string                   // "[output:dosguard:dosguard.0] "
	attrs   string                   // pre-rendered " k=v" pairs from WithAttrs
	group   string
}

var _ slog.Handler = (*LogHandler)(nil)

// NewLogHandler returns a handler writing to w for the named component, e.g.
// "output:dosguard:dosguard.0"; records below level are dropped.
func NewLogHandler(w io.Writer, component string, level slog.Leveler) *LogHandler {
	return &LogHandler{mu: new(sync.Mutex), w: w, level: level, prefix: "[" + component + "] "}
}

// NewSinkHandler returns a handler that hands each line, without the time
// and level prefix ("[component] message k=v"), to sink: the plugin passes
// Fluent Bit's own logger, which adds them and applies the instance's
// log_level through enabled.
func NewSinkHandler(component string, enabled func(slog.Level) bool, sink func(slog.Level, string)) *LogHandler {
	return &LogHandler{mu: new(sync.Mutex), enabled: enabled, sink: sink, prefix: "[" + component + "] "}
}

// Enabled reports whether records at l are written.
func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool {
	if h.enabled != nil {
		return h.enabled(l)
	}
	return l >= h.level.Level()
}

// Handle writes one record as one line.
func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var b strings.Builder
	if h.sink == nil {
		b.WriteString(t.Format("[2006/01/02 15:04:05.000] "))
		b.WriteString(levelTag(r.Level))
	}
	b.WriteString(h.prefix)
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	if h.sink != nil {
		h.sink(r.Level, b.String())
		return nil
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range attrs {
		appendAttr(&b, h.group, a)
	}
	h2 := *h
	h2.attrs += b.String()
	return &h2
}

// WithGroup returns a handler that prefixes later attribute keys with name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group += name + "."
	return &h2
}

func levelTag(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "[error] "
	case l >= slog.LevelWarn:
		return "[ warn] "
	case l >= slog.LevelInfo:
		return "[ info] "
	}
	return "[debug] "
}

func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			appendAttr(b, group+a.Key+".", ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteByte('=')
	var s string
	switch a.Value.Kind() {
	case slog.KindTime:
		s = a.Value.Time().UTC().Format(time.RFC3339)
	case slog.KindDuration:
		s = a.Value.Duration().String()
	default:
		s = a.Value.String()
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}

// ConfigError formats a start-up error as the one line Fluent Bit shows.
func ConfigError(component string, err error) string {
	return fmt.Sprintf("%s[error] [%s] %v", time.Now().Format("[2006/01/02 15:04:05.000] "), component, err)
}
