"""cifranegra.report (see DESIGN.md for this layer's role)."""
