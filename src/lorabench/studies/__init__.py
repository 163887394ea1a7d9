"""Studies: a grid of runs (models x training sizes x strategies x any `sweep.params` key x seeds) on
the same test items, run resumably (in order, or in parallel on Ray) and reported side by side; a
study over `sweep.params` chooses its cell on validation."""
