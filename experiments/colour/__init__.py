"""Colour images: a conv VAE's Gaussian, discretised logistic and logistic-mixture likelihoods,
and PixelCNN decoders of small and large field, on scikit-image's photo patches."""
