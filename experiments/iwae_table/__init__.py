"""The IWAE paper's table 1 on MNIST and Omniglot."""
