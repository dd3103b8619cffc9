"""Who gets a new lead: round-robin rotations (owner rules and strategies come with the flows)."""
