package benchutil

import (
	"errors"
	"flag"
	"io"
	"testing"
)

type testConfig struct{ N, M int }

func parseTest(args []string) (testConfig, error) {
	return ParseFlags(args, "test", testConfig{N: 100, M: 200}, testConfig{N: 1, M: 2},
		func(fs *flag.FlagSet, cfg *testConfig) {
			fs.SetOutput(io.Discard)
			fs.IntVar(&cfg.N, "n", cfg.N, "")
			fs.IntVar(&cfg.M, "m", cfg.M, "")
		},
		func(fs *flag.FlagSet, cfg testConfig) error {
			if cfg.N < 0 {
				return errors.New("-n must not be negative")
			}
			return nil
		})
}

func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want testConfig
	}{
		{nil, testConfig{100, 200}},
		{[]string{"-m=7"}, testConfig{100, 7}},
		{[]string{"-quick"}, testConfig{1, 2}},
		{[]string{"-m=7", "-quick"}, testConfig{1, 7}},
	} {
		if got, err := parseTest(c.args); err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
	if got, err := parseTest([]string{"-quick", "-n=-1"}); err == nil || got != (testConfig{}) {
		t.Errorf("-n=-1: %+v, %v; want the zero config and an error", got, err)
	}
	if _, err := parseTest([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}
