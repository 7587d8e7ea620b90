"""cifranegra.datasets (see DESIGN.md for this layer's role)."""
