"""The outbox table: mail queued in the business transaction, claimed and marked by the mail worker."""
