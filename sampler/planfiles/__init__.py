"""The plan directory: its schema, writing it and reading it back."""
