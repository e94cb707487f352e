// Package staff holds the accounts of the agency staff who use the web
// console: who they are, their role, how they prove it (an argon2id password
// and a TOTP second factor, each code accepted once), their sessions (8 hours
// at most, 30 minutes idle) with a CSRF token each, lockout after repeated
// failures, and an append-only log of every action an account takes.
//
// Roles grant permissions (Can): an agent searches beneficiaries and sends
// one notice, an operator runs campaigns and imports, an approver approves
// campaigns (never one they created: four-eyes), an auditor reads compliance
// reports and evidence, an admin manages accounts and has every permission.
package staff
