DROP_B = "DROP INDEX ix_events_b"
