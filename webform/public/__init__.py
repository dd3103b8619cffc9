"""Public web-to-lead capture: the hosted form, its thanks page, embed.js and the JSON API (`routes.bp`)."""
