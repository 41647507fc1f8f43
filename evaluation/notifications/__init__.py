"""Notifications (通知): what needs someone, told in the platform and, when configured, by email.
Derived from the audit log after each entry commits (rules, pure), kept per account (store),
delivered by the job that follows the log (job)."""
