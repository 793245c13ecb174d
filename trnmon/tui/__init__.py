"""neuron-top: a Textual TUI over any FleetSource (the only package that imports textual)."""
