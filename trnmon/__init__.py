"""trnmon: an emulated AWS Trainium2 fleet with Prometheus export and a neuron-top TUI."""

__version__ = "0.1.0"
