package phone

import "github.com/nyaruka/phonenumbers"

// Region returns the ISO 3166 country of a number written with its country
// code (e.g. "BR" for "+55 11 3003-0000"), or "" when it has none. Where a
// code serves several countries (+1), a number outside the known ranges
// gets the code's main country: good enough to read national numbers in.
func Region(number string) string {
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); r != "ZZ" {
		return r
	}
	return ""
}
