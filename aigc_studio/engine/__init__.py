"""The Qt bridge: one engine thread that runs jobs and reports through signals."""
