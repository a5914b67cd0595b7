"""auth room."""
