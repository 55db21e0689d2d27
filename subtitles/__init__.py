"""Subtitles: what Papá Noel says, written as the parent typed it and timed by the speech."""
