package main

import (
	"log/slog"
	"strings"
)

// unsubscribeLinks reports whether bulk emails can carry List-Unsubscribe
// links, and warns at start when they cannot although the deployment seems
// to want them: RFC 8058 requires an https link and links are signed with
// COURRIER_UNSUBSCRIBE_SECRET, so an http URL or a missing secret would
// otherwise drop the header silently.
func unsubscribeLinks(logger *slog.Logger, publicURL, secret string) bool {
	switch {
	case publicURL == "" && secret == "":
		// Nothing configured (demo, development): no alarm, but say it.
		logger.Info("unsubscribe links disabled: set COURRIER_PUBLIC_URL (https) and COURRIER_UNSUBSCRIBE_SECRET " +
			"to give general mailings a List-Unsubscribe header")
		return false
	case secret == "":
		logger.Warn("unsubscribe links disabled: COURRIER_UNSUBSCRIBE_SECRET is not set, bulk emails go without List-Unsubscribe")
		return false
	case !strings.HasPrefix(publicURL, "https://"):
		// RFC 8058 requires an https link; a bulk email must not fail for it.
		logger.Warn("unsubscribe links disabled: COURRIER_PUBLIC_URL must be an https URL, bulk emails go without List-Unsubscribe",
			"scheme", strings.SplitN(publicURL, ":", 2)[0])
		return false
	}
	return true
}
