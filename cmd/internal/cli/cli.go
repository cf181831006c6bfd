// Package cli holds what every Shepherd command shares: logging flags and
// the signal handling that stops a component cleanly.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// LogOptions are the logging flags.
type LogOptions struct {
	Level  string
	Format string
}

// AddFlags registers --log-level and --log-format.
func (o *LogOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Level, "log-level", "info", "Log level: debug, info, warn or error.")
	fs.StringVar(&o.Format, "log-format", "text", "Log format: text or json.")
}

// Logger returns the structured logger the flags describe, writing to
// stderr, with every record tagged with the component's name.
func (o *LogOptions) Logger(component string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", o.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", o.Format)
	}
	l := slog.New(h).With("component", component)
	slog.SetDefault(l)
	return l, nil
}

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM.
// A second signal exits at once.
func SignalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		os.Exit(1)
	}()
	return ctx, cancel
}
