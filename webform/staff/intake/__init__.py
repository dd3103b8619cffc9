"""Web forms and the quarantine (admins): each form with its submission counts, its definition and embed
snippet; the submissions held as suspected spam, with why each was held, to release or discard."""
