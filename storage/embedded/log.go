package embedded

import (
	"context"
	"log/slog"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// slogCore sends the embedded etcd's zap records to slog, so its messages
// share the component's log format, tagged component=etcd.
type slogCore struct {
	log   *slog.Logger
	level zapcore.Level
	attrs []any
}

func newEtcdLogger(log *slog.Logger, level string) *zap.Logger {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		lvl = zapcore.WarnLevel
	}
	return zap.New(&slogCore{log: log.With("subcomponent", "etcd"), level: lvl})
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, level: c.level, attrs: append(append([]any{}, c.attrs...), fieldAttrs(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	attrs := append(append([]any{}, c.attrs...), fieldAttrs(fields)...)
	level := slog.LevelInfo
	switch {
	case e.Level >= zapcore.ErrorLevel:
		level = slog.LevelError
	case e.Level == zapcore.WarnLevel:
		level = slog.LevelWarn
	case e.Level <= zapcore.DebugLevel:
		level = slog.LevelDebug
	}
	if level == slog.LevelError && isShutdownNoise(e.Message, attrs) {
		level = slog.LevelDebug
	}
	c.log.Log(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func fieldAttrs(fields []zapcore.Field) []any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, k, v)
	}
	return attrs
}

// isShutdownNoise recognizes the errors etcd logs about its own listeners
// closing when it is stopped on purpose.
func isShutdownNoise(msg string, attrs []any) bool {
	if !strings.Contains(msg, "serving") {
		return false
	}
	for i := 1; i < len(attrs); i += 2 {
		if s, ok := attrs[i].(string); ok &&
			(strings.Contains(s, "closed") || strings.Contains(s, "use of closed network connection")) {
			return true
		}
	}
	return false
}
