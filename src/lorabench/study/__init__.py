"""Studies: a grid of runs (models x training sizes x strategies x seeds) on the same test items,
run resumably and reported side by side."""
