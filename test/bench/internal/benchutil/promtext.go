package benchutil

import (
	"strconv"
	"strings"
)

// Sample is one line of a scrape in Prometheus' text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape is a /metrics page, parsed.
type Scrape []Sample

// ParseScrape parses Prometheus' text exposition format: comments and
// lines it cannot read are skipped.
func ParseScrape(text string) Scrape {
	var out Scrape
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if s, ok := parseSample(line); ok {
			out = append(out, s)
		}
	}
	return out
}

func parseSample(line string) (Sample, bool) {
	s := Sample{Labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return s, false
	}
	s.Name, line = line[:end], line[end:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, false
			}
			key := strings.TrimSpace(line[:eq])
			rest := line[eq+2:]
			// The value ends at the first quote not escaped by a backslash.
			i, escaped := 0, false
			for ; i < len(rest); i++ {
				if escaped {
					escaped = false
				} else if rest[i] == '\\' {
					escaped = true
				} else if rest[i] == '"' {
					break
				}
			}
			if i == len(rest) {
				return s, false
			}
			v, err := strconv.Unquote(`"` + rest[:i] + `"`)
			if err != nil {
				return s, false
			}
			s.Labels[key] = v
			line = rest[i+1:]
		}
	}
	f := strings.Fields(line) // value [timestamp]
	if len(f) == 0 {
		return s, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, false
	}
	s.Value = v
	return s, true
}

// Value returns the first sample of name whose labels include want
// ("key", "value" pairs).
func (sc Scrape) Value(name string, want ...string) (float64, bool) {
	for _, s := range sc {
		if s.Name == name && s.Has(want...) {
			return s.Value, true
		}
	}
	return 0, false
}

// Has says whether the sample's labels include want ("key", "value"
// pairs).
func (s Sample) Has(want ...string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if s.Labels[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}
