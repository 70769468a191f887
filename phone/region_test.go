package phone

import "testing"

func TestRegion(t *testing.T) {
	for in, want := range map[string]string{
		"+55 11 3003-0000": "BR", "+5511987654321": "BR", "+44 20 7946 0958": "GB",
		"+1 555-000-3131": "US", // outside the known ranges: +1's main country
		"":                "", "11 3003-0000": "", "+999 1234": "",
	} {
		if got := Region(in); got != want {
			t.Errorf("Region(%q) = %q, want %q", in, got, want)
		}
	}
}
