"""Cost-allocation tags for SageMaker resources, added the moment they are created."""

__version__ = "0.1.0"
