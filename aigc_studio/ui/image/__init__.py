"""The image studio pane."""
