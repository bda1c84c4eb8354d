"""Loading the neural models the parts use: causal LMs (real or tiny) and sentence embedders."""
