"""The paper's tables and figures: the reference values and the functions that reproduce them."""
