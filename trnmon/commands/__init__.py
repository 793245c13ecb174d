"""Command implementations behind the `trnmon` CLI."""
