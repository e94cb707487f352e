package campaigns

import (
	"fmt"
	"sort"
	"strings"
)

// Regions maps each region of France (its lower-case ASCII slug) to its
// départements. It covers the 13 metropolitan regions and the five overseas
// regions; "outre-mer" groups the overseas ones.
var Regions = map[string][]string{
	"auvergne-rhone-alpes":       {"01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"},
	"bourgogne-franche-comte":    {"21", "25", "39", "58", "70", "71", "89", "90"},
	"bretagne":                   {"22", "29", "35", "56"},
	"centre-val-de-loire":        {"18", "28", "36", "37", "41", "45"},
	"corse":                      {"2A", "2B"},
	"grand-est":                  {"08", "10", "51", "52", "54", "55", "57", "67", "68", "88"},
	"hauts-de-france":            {"02", "59", "60", "62", "80"},
	"ile-de-france":              {"75", "77", "78", "91", "92", "93", "94", "95"},
	"normandie":                  {"14", "27", "50", "61", "76"},
	"nouvelle-aquitaine":         {"16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"},
	"occitanie":                  {"09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"},
	"pays-de-la-loire":           {"44", "49", "53", "72", "85"},
	"provence-alpes-cote-d-azur": {"04", "05", "06", "13", "83", "84"},
	"guadeloupe":                 {"971"},
	"martinique":                 {"972"},
	"guyane":                     {"973"},
	"la-reunion":                 {"974"},
	"mayotte":                    {"976"},
	"outre-mer":                  {"971", "972", "973", "974", "975", "976"},
}

// postalPrefixes returns the postal-code prefixes of a département code:
// "01"…"95" (not "20"), "2A" and "2B" for Corsica, and "971"…"976" overseas.
// Postal codes follow départements except at a few borders (a commune may be
// served by a neighbouring département's post office); the agency's own
// département of affiliation is not in the schema, so the postal code is used.
func postalPrefixes(dep string) ([]string, error) {
	d := strings.ToUpper(strings.TrimSpace(dep))
	switch d {
	case "2A":
		return []string{"200", "201"}, nil
	case "2B":
		return []string{"202", "206"}, nil
	case "971", "972", "973", "974", "975", "976":
		return []string{d}, nil
	}
	if len(d) == 2 && d[0] >= '0' && d[0] <= '9' && d[1] >= '0' && d[1] <= '9' && d != "00" && d != "20" && d < "96" {
		return []string{d}, nil
	}
	return nil, fmt.Errorf("%q is not a département code (01–95, 2A, 2B, 971–976)", dep)
}

func regionNames() string {
	names := make([]string, 0, len(Regions))
	for k := range Regions {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
