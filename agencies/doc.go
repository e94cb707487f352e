// Package agencies describes the Cafs of a deployment: the territory each
// serves, its time zone and closure days, its sender identities, letterhead,
// mediator, reception points and hours, and optional routes and rate limits.
//
// The agency file is YAML, validated when loaded; every error names the file
// and line. A single-Caf file needs only a code, a name and a territory:
//
//	agencies:
//	  - code: "751"
//	    name: Caf de Paris
//	    territory: {departements: ["75"]}
//
// Each beneficiary belongs to the Caf whose territory holds their postal
// code (the longest matching postal-code prefix wins over a département),
// unless intake names the Caf. A beneficiary outside every territory belongs
// to the first Caf of the file.
package agencies
