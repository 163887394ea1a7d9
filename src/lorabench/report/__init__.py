"""Presenting results: console tables now; HTML and plots build on the same numbers."""
