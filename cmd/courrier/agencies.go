package main

import (
	"fmt"

	"github.com/courrier-dev/courrier/agencies"
)

// loadAgencies reads the agency file named by COURRIER_AGENCIES (the
// embedded two-Caf example when unset), validated with file:line errors.
func (e *Env) loadAgencies() (*agencies.Set, error) {
	set, err := agencies.LoadFile(e.Getenv(agencies.EnvFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", agencies.EnvFile, err)
	}
	return set, nil
}
