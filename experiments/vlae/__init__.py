"""VLAE (Chen et al. 2017): flows in the prior and posterior, and a local PixelCNN decoder."""
