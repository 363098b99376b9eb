package orbital

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
)

// config is the module's configuration once read; configRead says whether
// it was (a read that failed is tried again by the next Config).
var (
	config     map[string]any
	configRead bool
)

// Config returns the module's configuration: the config table of its
// [[process]] in the node configuration, such as
//
//	config = { greeting = "hi", n = 3, verbose = true }
//
// decoded as encoding/json decodes a JSON object: its values are strings,
// float64 numbers and booleans. It returns nil and no error when the
// process has no configuration. The configuration does not change while
// the process runs: Config reads it from the kernel once and returns a copy
// of it afterwards.
func Config() (map[string]any, error) {
	c, err := loadConfig()
	return maps.Clone(c), err
}

// ConfigString returns the configuration value key as a string: a string
// as it is, a number or boolean formatted (3 → "3", 1.5 → "1.5", true →
// "true"). It returns def when the key is missing, its value is of any
// other type, or the configuration cannot be read.
func ConfigString(key, def string) string {
	c, err := loadConfig()
	if err != nil {
		return def
	}
	switch v := c[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return def
}

// loadConfig returns the cached configuration, reading it first if needed.
func loadConfig() (map[string]any, error) {
	if configRead {
		return config, nil
	}
	c, err := readConfig()
	if err != nil {
		return nil, err
	}
	config, configRead = c, true
	return c, nil
}

// readConfig reads the configuration with the config host function: asked
// with an empty buffer it tells the size (0: none), then writes it into a
// buffer that large.
func readConfig() (map[string]any, error) {
	n := hostConfig(nil)
	for tries := 0; ; tries++ {
		switch {
		case n < 0:
			return nil, errno(n)
		case n == 0:
			return nil, nil
		case tries >= 3: // the size keeps changing
			return nil, ErrInvalid
		}
		buf := make([]byte, n)
		m := hostConfig(buf)
		if m != n { // an error, or not what it announced: ask again
			n = m
			continue
		}
		var c map[string]any
		if err := json.Unmarshal(buf, &c); err != nil {
			return nil, fmt.Errorf("orbital: config: %w", err)
		}
		return c, nil
	}
}
