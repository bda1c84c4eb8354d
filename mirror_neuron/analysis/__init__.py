"""What the analysis step is built from: text features, cached embeddings, the frame an analysis
reads (sources), estimators, cross-validated predictions with verdicts, and plots."""
