"""My day (`/`): today's tasks, events, new leads and reminders, each done in one click; the one-click actions
(complete a task, log a call, schedule a follow-up, dismiss a reminder) serve the record pages too."""
