"""The music studio pane."""
