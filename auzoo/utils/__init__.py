"""Small helpers every package uses: atomic file writes, console output."""
