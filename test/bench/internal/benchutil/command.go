package benchutil

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// ParseFlags reads a benchmark's command line args into a C, the command's
// configuration. The flag set, named name, has -quick and the flags define
// declares on cfg, each defaulting to cfg's value. A parse starts from def;
// with -quick the command line is parsed again from quick (its errors were
// reported by the first parse), so the flags not given take their quick
// values while explicit flags still win. check then judges the result; its
// error is printed to the flag set's output. On any error ParseFlags
// returns C's zero value, and flag.ErrHelp for -h.
func ParseFlags[C any](args []string, name string, def, quick C,
	define func(fs *flag.FlagSet, cfg *C), check func(fs *flag.FlagSet, cfg C) error) (C, error) {
	var zero C
	newSet := func(base C) (*flag.FlagSet, *C, *bool) {
		cfg := base
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		q := fs.Bool("quick", false, "small numbers for a smoke run (explicit flags still win)")
		define(fs, &cfg)
		return fs, &cfg, q
	}
	fs, cfg, isQuick := newSet(def)
	if err := fs.Parse(args); err != nil {
		return zero, err
	}
	if *isQuick {
		fs, cfg, _ = newSet(quick)
		fs.SetOutput(io.Discard) // the first parse reported any flag error
		if err := fs.Parse(args); err != nil {
			return zero, err
		}
		fs.SetOutput(nil) // but the checks below must be heard
	}
	if err := check(fs, *cfg); err != nil {
		fmt.Fprintln(fs.Output(), err)
		return zero, err
	}
	return *cfg, nil
}

// Main is a benchmark command's main function. It parses os.Args with
// parse, then runs the benchmark with a context an interrupt cancels,
// writing the report to stdout; run's figures, R, are for tests and go
// unused here. A benchmark reports and does not gate, so the exit status
// says only whether it measured: 0 when run returns no error (and for -h),
// 2 when the command line is wrong (parse has said why), 1 when run fails,
// printing "<name> benchmark: <error>" to stderr.
func Main[C, R any](name string, parse func(args []string) (C, error), run func(ctx context.Context, cfg C, out io.Writer) (R, error)) {
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, name+" benchmark:", err)
		stop()
		os.Exit(1)
	}
}
