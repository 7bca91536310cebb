"""Stable Diffusion models the user already has (diffusers folders, single-file checkpoints), opened offline.

Qt-free: ``source`` checks a model on disk, ``loading`` builds it with diffusers,
``jobs`` draws with it, ``metadata`` writes and reads Automatic1111-style PNG text.
"""
