"""The PyTorch exercise kit's autograder: grades student exercise modules against references."""

__version__ = "0.1.0"

TORCH_REQUIREMENTS = ("torch>=2.4,<=2.14.1", "torchvision>=0.19,<=0.29.1")
"""What a handout and a Classroom workflow install; the same ranges as the kit's own pyproject.toml."""
