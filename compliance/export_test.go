package compliance

// WithNotices makes the rules read the notice projection only (the
// reference the coverage projection is compared with).
var WithNotices = withNotices
