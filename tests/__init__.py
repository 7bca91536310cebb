"""AIGC Studio tests (a regular package, so that a `tests` package some library installs in site-packages cannot shadow it)."""
