package followup_test

import (
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/followup"
)

var delayParts = regexp.MustCompile(`(\d+)([smhd])`)

// A rule's delay, as any client may write it: ParseDelay never panics,
// never answers a negative or wrapped-around duration, reads exactly what
// the text says, and reads back what FormatDelay writes.
func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"30m", "2h", "3d", "1h30m", " 90M ", "", "0m", "1d2h3m4s", "-5m", "1.5h", "5 m", "m", "1000000d",
		"999999d999999d999999d999999d999999d999999d999999d999999d999999d999999d999999d", "106751d23h47m16s", "30m; DROP TABLE followup_rules",
		"<b>1h</b>", "１h", "1h\x00", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := followup.ParseDelay(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDelay(%q) = %v: negative", s, d)
		}
		// The exact sum, without int64 overflow.
		want := new(big.Int)
		units := map[string]int64{"s": 1e9, "m": 60e9, "h": 3600e9, "d": 86400e9}
		for _, m := range delayParts.FindAllStringSubmatch(strings.ToLower(s), -1) {
			n, _ := new(big.Int).SetString(m[1], 10)
			want.Add(want, n.Mul(n, big.NewInt(units[m[2]])))
		}
		if !want.IsInt64() || want.Int64() != int64(d) {
			t.Fatalf("ParseDelay(%q) = %v, but the text says %s ns", s, d, want)
		}
		back, err := followup.ParseDelay(followup.FormatDelay(d))
		if d > 0 && (err != nil || back != d) {
			t.Fatalf("FormatDelay(%v) = %q reads back as %v, %v", d, followup.FormatDelay(d), back, err)
		}
	})
}
