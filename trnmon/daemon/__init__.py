"""`trnmon daemon`: the emulated fleet as a long-running service (HTTP, control, systemd)."""
