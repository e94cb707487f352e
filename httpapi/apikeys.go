package httpapi

import (
	"github.com/courrier-dev/courrier/jobs"
)

// API key scopes (jobs owns the keys: CreateAPIKey, ListAPIKeys,
// RevokeAPIKey).
const (
	ScopeIngest = jobs.ScopeIngest
	ScopeStaff  = jobs.ScopeStaff
	ScopeAdmin  = jobs.ScopeAdmin
	ScopeAudit  = jobs.ScopeAudit
)

// Scopes lists every scope.
var Scopes = jobs.APIScopes

// Key is the API key a request was authenticated with.
type Key = jobs.APIKey
