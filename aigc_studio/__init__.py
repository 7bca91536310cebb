"""AIGC Studio: local generative models for images, text and music."""

__version__ = "0.1.0"
