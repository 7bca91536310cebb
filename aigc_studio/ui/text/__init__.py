"""The text studio pane."""
