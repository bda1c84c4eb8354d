"""An analysis of one frame (work), as its spec says: text features, cached embeddings, the frame an
analysis reads (sources), estimators, cross-validated predictions with verdicts (judge), and plots."""
