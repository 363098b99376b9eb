package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size units accepted by ParseSize.
const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// ParseSize parses a size such as "65536", "64KiB", "64MiB" or "4GiB": a
// non-negative decimal integer optionally followed, without a space, by one
// of the binary units KiB, MiB or GiB. Decimal units (KB, MB, GB) are
// rejected rather than guessed at.
func ParseSize(s string) (uint64, error) {
	num, mult := s, uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	if num == "" || strings.Trim(num, "0123456789") != "" {
		hint := ""
		for _, u := range []string{"K", "M", "G"} {
			if n, ok := strings.CutSuffix(strings.TrimSpace(s), u+"B"); ok && n != "" && strings.Trim(n, "0123456789 ") == "" {
				hint = fmt.Sprintf(" (did you mean %q?)", strings.TrimSpace(n)+u+"iB")
				break
			}
		}
		return 0, fmt.Errorf("invalid size %q: want an integer number of bytes with an optional KiB, MiB or GiB suffix%s", s, hint)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > math.MaxUint64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize renders n bytes in the largest binary unit that divides it, in a form
// ParseSize accepts ("64MiB", "1536KiB", "100").
func FormatSize(n uint64) string {
	switch {
	case n != 0 && n%GiB == 0:
		return strconv.FormatUint(n/GiB, 10) + "GiB"
	case n != 0 && n%MiB == 0:
		return strconv.FormatUint(n/MiB, 10) + "MiB"
	case n != 0 && n%KiB == 0:
		return strconv.FormatUint(n/KiB, 10) + "KiB"
	}
	return strconv.FormatUint(n, 10)
}
