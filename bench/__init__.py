"""`make bench`: cold-start import ratios, AWS calls per request, layer sizes, cost per million."""
