"""Phantom ductal trees with ground truth: growth, lesions, case folders, simulated inputs."""
from .grow import Envelope, generate_tree
from .params import PhantomParams

__all__ = ["Envelope", "PhantomParams", "generate_tree"]
