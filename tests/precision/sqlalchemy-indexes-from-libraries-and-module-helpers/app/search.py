def make_fts_index(column):
    """Adds an expression index with an after_create listener."""
