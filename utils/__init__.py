"""Generic helpers with no knowledge of orders or jobs: logging setup, processes, media probing, paths."""
