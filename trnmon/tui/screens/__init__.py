"""neuron-top views: one module per view."""
