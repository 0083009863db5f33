"""Reporting: published rows, result tables, markdown, plots and paired statistics."""
