"""singleuser room."""
