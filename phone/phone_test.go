package phone_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/phone"
)

func TestNormalizeAccepts(t *testing.T) {
	tests := []struct {
		name, raw, region, want string
	}{
		{"formatted international", "+55 11 99999-0000", "", "+5511999990000"},
		{"WhatsApp from, digits only", "5511999990000", "", "+5511999990000"},
		{"WhatsApp digits with a region", "5511999990000", "BR", "+5511999990000"},
		{"Twilio prefix", "whatsapp:+14155238886", "", "+14155238886"},
		{"Twilio prefix any case, formatted", "WhatsApp: +1 (415) 523-8886", "", "+14155238886"},
		{"spaces around", "  +55 (11) 99999.0000 ", "", "+5511999990000"},
		{"non-ASCII hyphen", "+55 11 99999\u20110000", "", "+5511999990000"},
		{"Arabic-Indic digits", "+\u0665\u0665\u0661\u0661\u0669\u0669\u0669\u0669\u0669\u0660\u0660\u0660\u0660", "", "+5511999990000"},
		{"fictional US 555 number stays usable", "+15550001111", "", "+15550001111"},
		{"bare digits: international reading valid", "15550001111", "BR", "+15550001111"},
		{"bare digits: national reading valid", "11999990000", "BR", "+5511999990000"},
		{"bare digits: US national", "2025550123", "US", "+12025550123"},
		{"lower-case region", "07700 900123", "gb", "+447700900123"},
		{"BR national with area code", "(11) 99999-0000", "BR", "+5511999990000"},
		{"BR national with trunk prefix", "011 99999 0000", "BR", "+5511999990000"},
		{"GB landline", "+44 20 7946 0958", "", "+442079460958"},
		{"GB national", "020 7946 0958", "GB", "+442079460958"},
		{"DE", "+49 30 123456", "", "+4930123456"},
		{"DE national", "030 123456", "DE", "+4930123456"},
		{"IT keeps its leading zero", "+39 06 1234 5678", "", "+390612345678"},
		{"IT national", "06 1234 5678", "IT", "+390612345678"},
		{"FR national", "06 12 34 56 78", "FR", "+33612345678"},
		{"IN", "+91 98765 43210", "", "+919876543210"},
		{"JP national", "090-1234-5678", "JP", "+819012345678"},
		{"NG", "+234 803 123 4567", "", "+2348031234567"},
		{"MX", "+52 55 1234 5678", "", "+525512345678"},
		{"MX old mobile token, as WhatsApp sends it", "5215512345678", "", "+525512345678"},
		{"AR mobile", "+54 9 11 1234-5678", "", "+5491112345678"},
		{"AR national mobile with 15", "011 15-1234-5678", "AR", "+5491112345678"},
		{"AU", "+61 412 345 678", "", "+61412345678"},
		{"CN", "+86 138 0013 8000", "", "+8613800138000"},
		{"AE", "+971 50 123 4567", "", "+971501234567"},
		{"ZA", "+27 82 123 4567", "", "+27821234567"},
		{"RU", "+7 912 345-67-89", "", "+79123456789"},
		{"PT", "+351 912 345 678", "", "+351912345678"},
		{"ES", "+34 612 34 56 78", "", "+34612345678"},
		{"international prefix from DE", "0055 11 99999 0000", "DE", "+5511999990000"},
		{"international prefix 00 1", "00 1 415 523 8886", "DE", "+14155238886"},
		{"global number", "+800 1234 5678", "", "+80012345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Normalize(tt.raw, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%q, %q): %v", tt.raw, tt.region, err)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
			}
			if again, err := phone.Normalize(got, ""); err != nil || again != got {
				t.Fatalf("Normalize(%q) again = %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizeRefuses(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              phone.Reason
	}{
		{"empty", "", "BR", phone.ReasonEmpty},
		{"blank", "   ", "BR", phone.ReasonEmpty},
		{"prefix only", "whatsapp:", "", phone.ReasonEmpty},
		{"letters", "abc", "US", phone.ReasonNotANumber},
		{"vanity number", "1-800-FLOWERS", "US", phone.ReasonNotANumber},
		{"digits then words", "+55 11 99999-0000 ext. 12", "", phone.ReasonNotANumber},
		{"hash extension", "+55 11 99999-0000#12", "", phone.ReasonNotANumber},
		{"tel URI", "tel:+5511999990000", "", phone.ReasonNotANumber},
		{"emoji", "+55 11 99999-0000 \U0001F4DE", "", phone.ReasonNotANumber},
		{"plus only", "+", "", phone.ReasonNotANumber},
		{"too short international", "+1 123", "", phone.ReasonTooShort},
		{"too short national", "123", "US", phone.ReasonTooShort},
		{"too long", "+5511999990000999999", "", phone.ReasonTooLong},
		{"one digit too many for NANP", "+1 202 555 0123 4", "", phone.ReasonTooLong},
		{"absurdly long", "+" + strings.Repeat("5", 80), "", phone.ReasonTooLong},
		{"more digits than E.164 allows", "10000000000000", "DE", phone.ReasonTooLong},
		{"unassigned country code", "+999 1234567", "", phone.ReasonInvalidCountryCode},
		{"national without a region", "11 99999-0000", "", phone.ReasonInvalidCountryCode},
		{"national with an unknown region", "11 99999-0000", "XX", phone.ReasonInvalidCountryCode},
		{"too short for FR", "+33 6 12 34 56 7", "", phone.ReasonTooShort},
		{"a length between the allowed ones", "+353 87 123", "", phone.ReasonImpossible},
		{"BR length no number has", "+55 11 9999 900 001", "", phone.ReasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Normalize(tt.raw, tt.region)
			if err == nil {
				t.Fatalf("Normalize(%q, %q) = %q, want an error", tt.raw, tt.region, got)
			}
			var ie *phone.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *InvalidError", err, err)
			}
			if ie.Reason != tt.want {
				t.Errorf("reason = %q, want %q", ie.Reason, tt.want)
			}
			if ie.Input != tt.raw {
				t.Errorf("Input = %q, want the raw input %q", ie.Input, tt.raw)
			}
			if !errors.Is(err, phone.ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
			if code := parley.ErrorCode(err); code != parley.CodeValidation {
				t.Errorf("parley.ErrorCode = %q, want %q", code, parley.CodeValidation)
			}
			if strings.TrimSpace(tt.raw) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.raw)) {
				t.Errorf("error %q leaks the number", err)
			}
		})
	}
}

func TestDigits(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"+5511999990000", "5511999990000"},
		{"+14155238886", "14155238886"},
		{"", ""},
	} {
		if got := phone.Digits(tt.in); got != tt.want {
			t.Errorf("Digits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The round trip WhatsApp relies on: its digits read back as the same number.
	const e164 = "+5511999990000"
	if got, err := phone.Normalize(phone.Digits(e164), ""); err != nil || got != e164 {
		t.Errorf("Normalize(Digits(%q)) = %q, %v", e164, got, err)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"+55 11 99999-0000", "5511999990000", "whatsapp:+14155238886", "(11) 99999-0000",
		"5215512345678", "+39 06 1234 5678", "0055 11 99999 0000", "abc", "+", "", "+999 1234567",
		"011 15-1234-5678", "+800 1234 5678", "00 1 415 523 8886", "+7 912 345-67-89",
	} {
		for _, region := range []string{"", "BR", "US", "AR", "IT", "DE"} {
			f.Add(s, region)
		}
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		out, err := phone.Normalize(raw, region)
		if err != nil {
			if out != "" {
				t.Fatalf("Normalize(%q, %q) returned %q with error %v", raw, region, out, err)
			}
			if !errors.Is(err, phone.ErrInvalid) {
				t.Fatalf("Normalize(%q, %q) error %v is not ErrInvalid", raw, region, err)
			}
			return
		}
		if len(out) < 2 || out[0] != '+' || len(out) > 16 {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, out)
		}
		for _, c := range out[1:] {
			if c < '0' || c > '9' {
				t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, out)
			}
		}
		for _, r := range []string{"", region, "BR"} {
			again, err := phone.Normalize(out, r)
			if err != nil || again != out {
				t.Fatalf("Normalize(%q, %q) = %q, but Normalize(%q, %q) = %q, %v", raw, region, out, out, r, again, err)
			}
		}
		if again, err := phone.Normalize(phone.Digits(out), ""); err != nil || again != out {
			t.Fatalf("Digits(%q) reads back as %q, %v", out, again, err)
		}
	})
}
