"""Evaluation of every model kind: quality, diversity, novelty and efficiency against reference data.

Qt-free. ``job.EvaluateJob`` drives one evaluator per studio (``images``, ``text``, ``music``)
through the small interface in ``base``; ``report`` writes the HTML page and ``card`` the short
evaluation stored in a model card after training.
"""
