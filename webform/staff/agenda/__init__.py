"""The agenda (`/agenda`): my week or my day of calls, meetings and tasks in my zone; a new event with an
invitation (.ics) to its attendees; drag an event to move it (`static/agenda.js`), or use its form."""
