"""The header's search: `/search?q=` (a results page within the user's scope, each with its owner) and
`/search/suggest?q=` (the same results as an HTML fragment, for the box's results as you type)."""
