"""Loading the neural models the parts use: causal LMs (real or tiny), sentence embedders, and the one
device/dtype rule every model follows."""
