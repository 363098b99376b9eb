package manifest

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error that Parse and Load return for a
// manifest that is not valid TOML or does not follow the schema, so callers
// can test for it with errors.Is. I/O errors from Load do not wrap it.
var ErrInvalid = errors.New("invalid manifest")

// Error describes one problem in a manifest. Its message has the form
//
//	orbital.toml:7: capabilities.fs[0].access: must be "ro" or "rw", got "rx"
//
// When a manifest has several problems, Parse returns them all, ordered by
// line, joined with errors.Join; errors.As finds the first.
type Error struct {
	Source string // file name given to Parse or Load
	Line   int    // 1-based line of the offending key, value or table
	Key    string // dotted key path such as "capabilities.fs[0].access"; empty for syntax errors
	Msg    string // what is wrong
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.Source, e.Line, e.Key, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }
