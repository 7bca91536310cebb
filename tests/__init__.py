"""AIGC Studio's tests (a package, so that `tests.*` never resolves to a `tests` package some library installed)."""
