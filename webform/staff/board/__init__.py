"""The pipeline board: a sales process's stages as columns of deal cards; drag (or a menu) moves a deal."""
