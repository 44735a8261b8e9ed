"""The PyTorch exercise kit's autograder: grades student exercise modules against references."""

__version__ = "0.1.0"
