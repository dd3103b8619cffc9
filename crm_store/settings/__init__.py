"""Company settings, picklists and the reference data every installation is seeded with."""
