"""Command line: ``aigc-studio`` (GUI) and its sub-commands."""
