"""Personal data's life cycle: what an order leaves behind, its deletion on request (forget) and
when its retention period ends (purge)."""
